"""Card numbers and SSNs typed into the plain chat, however they are written, are masked
before they reach the messages table, the SQLite WAL or either Redis stream (issue 11)."""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable

from integration.test_chat import agent_events, bearer, visitor_events, visitor_token
from support.flow import Desk
from support.scan import Canary, Item, Scanner, database_items, file_items, redis_items
from support.stack import Stack

from core.forms.cards import luhn_ok

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def groups(card: str, sep: str) -> str:
    return sep.join(card[i : i + 4] for i in range(0, len(card), 4))


# How the review typed cards that went through in the clear, and a few more.
SHAPES: dict[str, Callable[[str], str]] = {
    "dots": lambda c: groups(c, "."),
    "double spaces": lambda c: groups(c, "  "),
    "no-break spaces": lambda c: groups(c, "\u00a0"),
    "full-width digits": lambda c: c.translate(FULL_WIDTH),
    "full-width, ideographic spaces": lambda c: groups(c, "\u3000").translate(FULL_WIDTH),
    "slashes": lambda c: groups(c, "/"),
    "underscores": lambda c: groups(c, "_"),
    "spaced dashes": lambda c: groups(c, " - "),
    "arabic-indic digits": lambda c: c.translate(ARABIC_INDIC),
    "as usual": lambda c: groups(c, " "),
}


def new_card() -> str:
    body = "4" + "".join(secrets.choice("0123456789") for _ in range(14))
    return next(body + d for d in "0123456789" if luhn_ok(body + d))


def new_ssn() -> str:
    area = f"{secrets.choice(range(1, 666)):03d}"
    return f"{area}{secrets.choice(range(1, 100)):02d}{secrets.choice(range(1, 10000)):04d}"


def not_a_card(card: str) -> str:
    """The same digits with the check digit off by one: an order number, say."""
    return card[:-1] + str((int(card[-1]) + 1) % 10)


_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_JOINS = re.compile(r"(?<=[0-9])[^0-9A-Za-z\n]{1,3}(?=[0-9])")


def joined_digits(data: bytes) -> str:
    """The text with JSON escapes undone, NFKC'd, other scripts' digits made ASCII, and
    the separators between digits dropped: the shapes above all come out as plain
    digits, so a search for the number finds any of them left in the clear."""
    text = _ESCAPE.sub(lambda m: chr(int(m[1], 16)), data.decode("utf-8", "replace"))
    text = "".join(
        str(unicodedata.decimal(c)) if unicodedata.decimal(c, None) is not None else c
        for c in unicodedata.normalize("NFKC", text)
    )
    return _JOINS.sub("", text)


def everything(stack: Stack) -> list[Item]:
    items = file_items(stack.data_dir)
    for name, engine in stack.engines().items():
        items += database_items(name, engine)
        engine.dispose()
    for client in stack.redis_clients():
        items += redis_items(client)
    return items


def test_cards_and_ssns_typed_anyhow_are_masked_everywhere(stack: Stack) -> None:
    desk = Desk.make(stack)
    cid = desk.conversation()
    token = visitor_token(desk, cid)
    cards = {shape: new_card() for shape in SHAPES}
    ssns = {"dashes": new_ssn(), "spaces": new_ssn()}
    order = not_a_card(new_card())
    said = [f"card ({shape}): {write(cards[shape])}, ok?" for shape, write in SHAPES.items()]
    ssn = ssns["dashes"]
    said.append(f"my ssn is {ssn[:3]}-{ssn[3:5]}-{ssn[5:]}.")
    ssn = ssns["spaces"]
    said.append(f"my ssn is {ssn[:3]} {ssn[3:5]} {ssn[5:]}.")
    said.append(f"order {groups(order, ' ')} please")
    with desk.client() as c:
        answers = [
            c.post("/api/v1/chat/messages", json={"text": text}, headers=bearer(token))
            for text in said
        ]
    assert [r.status_code for r in answers] == [201] * len(said), [r.text for r in answers]
    shown = [r.json()["text"] for r in answers]
    assert shown == [
        *(f"card ({shape}): •••• {cards[shape][-4:]}, ok?" for shape in SHAPES),
        f"my ssn is •••-••-{ssns['dashes'][-4:]}.",
        f"my ssn is •••-••-{ssns['spaces'][-4:]}.",
        f"order {groups(order, ' ')} please",  # fails Luhn: kept as typed
    ]
    # Both streams have been written (the requests returned after writing them).
    agent_events(desk, "chat.card_number_detected")
    visitor_events(desk, token, "chat.message")

    items = everything(stack)
    secrets_typed = {**{f"card {s}": n for s, n in cards.items()}, **ssns}
    scanner = Scanner([Canary(label, number, digits=True) for label, number in cards.items()])
    assert scanner.scan(items) == []
    # Each item is folded once (it is the slow part: the stores hold the whole session's
    # data), then searched for every number.
    folded = [(where, joined_digits(data)) for where, data in items]
    leaks = [
        (where, label)
        for where, text in folded
        for label, number in secrets_typed.items()
        if number in text
    ]
    assert leaks == []
    # The scan can see: the order number, typed the same way, is there in each place.
    seen = {where.split(" ")[0] for where, text in folded if order in text}
    assert any(w.startswith("app.messages") for w in seen) or any(
        w.endswith((".db", ".db-wal", ".sqlite", ".sqlite-wal")) for w in seen
    ), seen
    assert sum(w.startswith("redis[") for w in seen) >= 1, seen
