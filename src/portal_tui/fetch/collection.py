"""A sender-email collection from its pages: plausibility, anomalies, one list.

A page that fails fails the collection (an incomplete list is never returned
as if it were whole); a page count or totals mismatch is returned, flagged by
:attr:`MailboxCollection.complete` and the anomalies it lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from portal_tui.fetch.compact import MailboxCompactor
from portal_tui.upstream.mailboxes import MailboxCollection
from portal_tui.upstream.models import SenderEmail, SenderEmailPage
from portal_tui.vocabulary.errors import ErrorType, UpstreamError

MAX_PAGES = 20_000  # a meta.last_page beyond this is a broken upstream, not data


def last_page(first: SenderEmailPage) -> int:
    """How many pages page 1 says there are; raises if that is not plausible."""
    last = first.meta.last_page
    if last > MAX_PAGES or last < 1:
        raise UpstreamError(
            ErrorType.VALIDATION, f"sender-emails meta.last_page={last} is not plausible"
        )
    return last


def page_failed(number: int, last: int, error: BaseException) -> BaseException:
    """The error that fails the collection when page ``number`` of ``last`` failed."""
    if not isinstance(error, UpstreamError):
        return error
    return UpstreamError(
        error.error_type,
        f"sender-emails page {number}/{last}: {error.message}",
        status_code=error.status_code,
        retry_after=error.retry_after,
    )


def assemble(
    pages: Mapping[int, SenderEmailPage], compactor: MailboxCompactor
) -> MailboxCollection:
    """Every mailbox of ``pages`` (page 1 at least) once, with what looked wrong."""
    mailboxes: list[SenderEmail] = []
    seen_pages: set[int] = set()
    anomalies: list[str] = []
    for number in sorted(pages):
        page = pages[number]
        if page.meta.current_page != number:
            anomalies.append(f"page {number} came back as page {page.meta.current_page}")
        # A page that claims to be another page (a loop upstream) is not counted twice.
        if page.meta.current_page in seen_pages:
            continue
        seen_pages.add(page.meta.current_page)
        mailboxes.extend(page.data)
    last_next = pages[max(pages)].links.next
    if last_next:
        anomalies.append(f"last page {max(pages)} links.next is not null ({_page_of(last_next)})")
    compactor.compact(mailboxes)
    return MailboxCollection(
        mailboxes, pages[1].meta, pages_fetched=len(seen_pages), anomalies=tuple(anomalies)
    )


def _page_of(url: str) -> str:
    """``page=N`` of a pagination link, without the rest of the URL."""
    query = parse_qs(urlsplit(url).query)
    return f"points at page {query['page'][0]}" if "page" in query else "a link without a page"
