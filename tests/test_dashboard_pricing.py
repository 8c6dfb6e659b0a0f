"""Mailbox pricing by reseller tag: defaults, conditions, priority, per-domain sharing."""

from __future__ import annotations

import pytest

from portal_tui.config import PricingRule
from portal_tui.dashboards.pricing import MailboxPrice, PriceTable, domain_of

TABLE = PriceTable()  # the portal's defaults


@pytest.mark.parametrize(
    ("tags", "reseller", "price"),
    [
        (["CheapInboxes"], "CheapInboxes", 3.0),
        (["zapmail"], "Zapmail", 3.0),
        (["MAILR", "warming"], "Mailr", 0.91),
        (["Google", "healthy"], "Google", 3.0),
        (["google", "Warming"], "Google", 3.0),
        ([" Google ", "HEALTHY"], "Google", 3.0),
    ],
)
def test_default_prices_case_insensitive(tags: list[str], reseller: str, price: float) -> None:
    [priced] = TABLE.price_workspace([("a@x.com", tags)])
    assert priced == MailboxPrice(reseller=reseller, price=price, needs_review=False)


def test_google_without_healthy_or_warming_costs_nothing_and_is_not_flagged() -> None:
    match = TABLE.match(["Google", "burnt"])
    assert (match.reseller, match.rule, match.needs_review) == ("Google", None, False)
    [priced] = TABLE.price_workspace([("a@x.com", ["Google", "burnt"])])
    assert priced == MailboxPrice(reseller="Google", price=0.0, needs_review=False)


@pytest.mark.parametrize("tags", [[], ["Outlook"], ["healthy"], ["Smartlead"]])
def test_unknown_reseller_is_zero_and_needs_review(tags: list[str]) -> None:
    [priced] = TABLE.price_workspace([("a@x.com", tags)])
    assert priced == MailboxPrice(reseller=None, price=0.0, needs_review=True)
    assert TABLE.match(tags).needs_review


def test_rule_order_is_priority() -> None:
    # Zapmail sells Google mailboxes: the reseller tag comes first in the rules.
    match = TABLE.match(["Google", "healthy", "Zapmail"])
    assert match.reseller == "Zapmail"
    assert match.rule is not None and match.rule.price == 3.0


def test_scaledmail_price_is_shared_across_the_domains_mailboxes() -> None:
    prices = TABLE.price_workspace(
        [
            ("a@scaled.co", ["ScaledMail"]),
            ("b@Scaled.CO", ["scaledmail"]),
            ("c@scaled.co", ["ScaledMail"]),
            ("d@other.co", ["ScaledMail"]),
            ("e@scaled.co", ["Zapmail"]),  # same domain, other reseller: not in the share
        ]
    )
    third = MailboxPrice(reseller="ScaledMail", price=50 / 3, needs_review=False, domain_share=3)
    assert prices == [
        third,
        third,
        third,
        MailboxPrice(reseller="ScaledMail", price=50.0, needs_review=False, domain_share=1),
        MailboxPrice(reseller="Zapmail", price=3.0, needs_review=False),
    ]
    assert sum(p.price for p in prices[:3]) == pytest.approx(50.0)


def test_domain_sharing_is_per_workspace_call() -> None:
    one = TABLE.price_workspace([("a@scaled.co", ["ScaledMail"]), ("b@scaled.co", ["ScaledMail"])])
    other = TABLE.price_workspace([("c@scaled.co", ["ScaledMail"])])
    assert [p.price for p in one] == [25.0, 25.0]  # 50 / 2
    assert [p.price for p in other] == [50.0]


def test_custom_rules_with_conditions_and_domain_pricing() -> None:
    table = PriceTable(
        [
            PricingRule(tag="Inboxy", price=12.0, per="domain", with_any_tag=["Active"]),
            PricingRule(tag="Inboxy", price=1.5),
        ]
    )
    assert [r.tag for r in table.rules] == ["Inboxy", "Inboxy"]
    prices = table.price_workspace(
        [
            ("a@d.io", ["inboxy", "active"]),
            ("b@d.io", ["Inboxy", "ACTIVE"]),
            ("c@d.io", ["Inboxy", "paused"]),  # second rule: flat 1.5
            ("d@d.io", ["Inboxy", "active"]),
        ]
    )
    assert [(p.price, p.domain_share) for p in prices] == [(4.0, 3), (4.0, 3), (1.5, 0), (4.0, 3)]


def test_no_rules_means_everything_needs_review() -> None:
    [priced] = PriceTable([]).price_workspace([("a@x.com", ["CheapInboxes"])])
    assert priced.needs_review and priced.price == 0.0


def test_domain_of() -> None:
    assert domain_of("Someone@Example.COM ") == "example.com"
    assert domain_of("no-at-sign") == ""
    assert domain_of("") == ""
