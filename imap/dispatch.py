"""The command table: name, handler, the states it is valid in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imap import cmd_any, cmd_append, cmd_idle, cmd_mailbox, cmd_message
from imap.parser import Command
from imap.session import AUTHENTICATED, NOT_AUTHENTICATED, SELECTED

if TYPE_CHECKING:
    from imap.session import Session


@dataclass(frozen=True, slots=True)
class Handler:
    handler: Callable[[Session, Command], Awaitable[str | None]]
    states: frozenset[str]
    sync: bool = True
    """Whether untagged mailbox updates may follow it."""


_ANY = frozenset({NOT_AUTHENTICATED, AUTHENTICATED, SELECTED})
_AUTH = frozenset({AUTHENTICATED, SELECTED})
_SEL = frozenset({SELECTED})
_NOAUTH = frozenset({NOT_AUTHENTICATED})

COMMANDS: dict[str, Handler] = {
    "CAPABILITY": Handler(cmd_any.capability, _ANY),
    "NOOP": Handler(cmd_any.noop, _ANY),
    "LOGOUT": Handler(cmd_any.logout, _ANY, sync=False),
    "ID": Handler(cmd_any.id_, _ANY),
    "LOGIN": Handler(cmd_any.login, _NOAUTH, sync=False),
    "AUTHENTICATE": Handler(cmd_any.authenticate, _NOAUTH, sync=False),
    "ENABLE": Handler(cmd_any.enable, _AUTH),
    "NAMESPACE": Handler(cmd_any.namespace, _AUTH),
    "SELECT": Handler(cmd_mailbox.select, _AUTH, sync=False),
    "EXAMINE": Handler(cmd_mailbox.select, _AUTH, sync=False),
    "CREATE": Handler(cmd_mailbox.create, _AUTH),
    "DELETE": Handler(cmd_mailbox.delete, _AUTH),
    "RENAME": Handler(cmd_mailbox.rename, _AUTH),
    "SUBSCRIBE": Handler(cmd_mailbox.subscribe, _AUTH),
    "UNSUBSCRIBE": Handler(cmd_mailbox.subscribe, _AUTH),
    "LIST": Handler(cmd_mailbox.list_, _AUTH),
    "LSUB": Handler(cmd_mailbox.list_, _AUTH),
    "STATUS": Handler(cmd_mailbox.status, _AUTH),
    "APPEND": Handler(cmd_append.append, _AUTH),
    "IDLE": Handler(cmd_idle.idle, _AUTH),
    "CHECK": Handler(cmd_any.noop, _SEL),
    "CLOSE": Handler(cmd_mailbox.close, _SEL, sync=False),
    "UNSELECT": Handler(cmd_mailbox.unselect, _SEL, sync=False),
    "EXPUNGE": Handler(cmd_message.expunge, _SEL),
    "SEARCH": Handler(cmd_message.search, _SEL),
    "FETCH": Handler(cmd_message.fetch, _SEL),
    "STORE": Handler(cmd_message.store, _SEL),
    "COPY": Handler(cmd_message.copy, _SEL),
    "MOVE": Handler(cmd_message.copy, _SEL),
}
