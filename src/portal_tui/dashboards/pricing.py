"""Mailbox prices by reseller tag (SPEC section 3, Infrastructure).

The rules are ``Config.pricing`` (default :data:`~portal_tui.config.DEFAULT_PRICING`:
CheapInboxes $3, Zapmail $3, Mailr $0.91, ScaledMail $50 per domain, Google $3
when tagged healthy or warming). Matching, case-insensitive on tag names:

* Rules are tried in configured order; the first rule whose ``tag`` is on the
  mailbox and whose ``with_any_tag`` (if any) meets one of the mailbox's tags
  prices it. Order is priority: a Zapmail mailbox also tagged ``Google`` is
  a Zapmail mailbox.
* The mailbox's *reseller* is that rule's tag as configured (``ScaledMail``),
  or, when no rule prices it, the first rule tag found on it.
* A mailbox whose tags name a reseller but miss the rule's condition (a
  ``Google`` mailbox neither healthy nor warming) costs 0 and is not flagged:
  that is the portal's rule, not an unknown price.
* A mailbox with no reseller tag at all costs 0 and is flagged: "pricing
  needs review".

``per = "domain"``: the price is for the domain and is split equally across
the mailboxes priced by that rule on that domain **within one workspace**.
Sharing is per workspace, not global, on purpose: a workspace's cost then
depends on its own mailboxes only, so a sibling that failed or is stale
cannot move it, and each workspace is computed on its own. A domain whose
mailboxes sit in several workspaces (which is itself odd: a client's domains
are bought for that client) is counted once per workspace; the
Infrastructure summary flags it on every workspace concerned and gives the
amount counted more than once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from portal_tui.config import DEFAULT_PRICING, PricingRule


@dataclass(frozen=True, slots=True)
class PriceMatch:
    """Which rule, if any, prices a mailbox."""

    reseller: str | None
    """The reseller as the rule spells it; None when no rule's tag is on the mailbox."""
    rule: PricingRule | None
    """The rule that prices the mailbox; None means a price of 0."""

    @property
    def needs_review(self) -> bool:
        """True when the reseller is unknown, so the price of 0 is a guess."""
        return self.reseller is None


@dataclass(frozen=True, slots=True)
class MailboxPrice:
    """The monthly price of one mailbox."""

    reseller: str | None
    price: float
    needs_review: bool
    domain_share: int = 0
    """Mailboxes splitting a per-domain price (this one included); 0 when not per domain."""


@dataclass(frozen=True, slots=True)
class _Rule:
    rule: PricingRule
    tag: str
    any_of: frozenset[str]


UNKNOWN = PriceMatch(reseller=None, rule=None)


def _fold(tag: str) -> str:
    return tag.strip().casefold()


def _compile(rule: PricingRule) -> _Rule:
    return _Rule(rule, _fold(rule.tag), frozenset(_fold(t) for t in rule.with_any_tag))


def domain_of(address: str) -> str:
    """The lower-cased domain of an email address ('' when it has none)."""
    _, at, domain = address.rpartition("@")
    return domain.strip().casefold() if at else ""


class PriceTable:
    """Pricing rules compiled for lookup; cheap to build, so build one per computation."""

    __slots__ = ("_memo", "_rules")

    def __init__(self, rules: Iterable[PricingRule] = DEFAULT_PRICING) -> None:
        self._rules = tuple(_compile(rule) for rule in rules)
        self._memo: dict[tuple[str, ...], PriceMatch] = {}

    @property
    def rules(self) -> tuple[PricingRule, ...]:
        """The rules in priority order."""
        return tuple(r.rule for r in self._rules)

    def match(self, tags: Iterable[str]) -> PriceMatch:
        """The rule that prices a mailbox carrying ``tags`` (any case).

        Remembered per distinct tag list: a workspace has few distinct ones.
        """
        key = tuple(tags)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = self._match(frozenset(_fold(t) for t in key))
        return found

    def _match(self, tags: frozenset[str]) -> PriceMatch:
        reseller: str | None = None
        for compiled in self._rules:
            if compiled.tag not in tags:
                continue
            if not compiled.any_of or not compiled.any_of.isdisjoint(tags):
                return PriceMatch(compiled.rule.tag, compiled.rule)
            if reseller is None:
                reseller = compiled.rule.tag
        return PriceMatch(reseller, None) if reseller is not None else UNKNOWN

    def prices(self, addresses: Sequence[str], matches: Sequence[PriceMatch]) -> list[MailboxPrice]:
        """Prices of one workspace's mailboxes from their addresses and matches.

        Per-domain prices are split across the mailboxes given here only (see
        the module docstring for why sharing is per workspace). Equal prices
        share one :class:`MailboxPrice` object, which keeps 50,000 mailboxes cheap.
        """
        flat: dict[int, MailboxPrice] = {}
        per_domain: set[int] = set()
        for match in matches:
            if id(match) not in flat:
                flat[id(match)] = _flat_price(match)
                if match.rule is not None and match.rule.per == "domain":
                    per_domain.add(id(match))
        prices = [flat[id(match)] for match in matches]
        if not per_domain:
            return prices
        groups: dict[tuple[int, str], list[int]] = {}
        for index, match in enumerate(matches):
            if id(match) in per_domain:
                key = (id(match.rule), domain_of(addresses[index]))
                groups.setdefault(key, []).append(index)
        for indexes in groups.values():
            rule = matches[indexes[0]].rule
            assert rule is not None
            shared = MailboxPrice(rule.tag, rule.price / len(indexes), False, len(indexes))
            for index in indexes:
                prices[index] = shared
        return prices

    def price_workspace(self, mailboxes: Sequence[tuple[str, Iterable[str]]]) -> list[MailboxPrice]:
        """Prices of one workspace's mailboxes given as ``(address, tag names)``."""
        return self.prices([a for a, _ in mailboxes], [self.match(t) for _, t in mailboxes])


def _flat_price(match: PriceMatch) -> MailboxPrice:
    rule = match.rule
    if rule is None:
        return MailboxPrice(match.reseller, 0.0, match.needs_review)
    # A per-domain match gets its shared price later; this placeholder is replaced.
    return MailboxPrice(match.reseller, rule.price, False)
