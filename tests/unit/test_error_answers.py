"""The one table of answers: every error of the service has its row, and rows agree."""

from __future__ import annotations

import app.errors as errors
from app.errors import ANSWERS, Answer, answer


def _error_classes() -> list[type[errors.UnpostedError]]:
    found = [getattr(errors, name) for name in errors.__all__]
    return [
        kind for kind in found if isinstance(kind, type) and issubclass(kind, errors.UnpostedError)
    ]


def test_every_error_of_the_service_has_its_own_row() -> None:
    missing = [kind.__name__ for kind in _error_classes() if kind not in ANSWERS]
    assert missing == ["BodyRefused"]  # abstract: each of its three refusals has a row


def test_an_error_without_a_row_is_answered_as_its_nearest_ancestor() -> None:
    class Unlisted(errors.LeaseConflict):
        pass

    assert answer(Unlisted("taken")) == Answer("leased", 409)
    assert answer(errors.BodyTooLarge("too big")).status == 413


def test_only_what_recovers_by_itself_says_when_to_try_again() -> None:
    for kind, row in ANSWERS.items():
        assert (row.retry_after is not None) == issubclass(kind, errors.Unavailable), kind
        if row.retry_after is not None:
            assert row.status == 503


def test_fatal_errors_answer_no_request_and_stop_the_command_line() -> None:
    for kind in (errors.ConfigError, errors.StateDirInUse, errors.DatabaseRefused):
        assert (answer(kind("x")).status, answer(kind("x")).exit_code) == (None, 2)
    assert answer(errors.SchemaTooNew("x")) == Answer("schema_too_new", None, None, 1)


def test_request_errors_answer_4xx_but_not_ready_and_dropbox_5xx() -> None:
    for kind, row in ANSWERS.items():
        if issubclass(kind, errors.RequestError) and kind is not errors.NotReady:
            assert row.status is not None and 400 <= row.status < 500, kind
        if issubclass(kind, errors.DropboxError):
            assert row.status in (502, 503) and row.page, kind


def test_a_body_refusal_is_an_http_exception_with_the_tables_status() -> None:
    refused = errors.BodyTimeout("the body did not arrive in time")
    assert (refused.status_code, str(refused)) == (408, "the body did not arrive in time")
