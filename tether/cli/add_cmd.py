"""`tether add [SERVICE] [ID]`: the integration setup form, asked on a terminal or answered by
``--set``/environment/stdin in scripts. Every question and check comes from the service catalogue
through the `add_form`/`add_check` operations; this module only asks and shows."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from tether.cli import output
from tether.errors import TetherError

ENV_PREFIX = "TETHER_ADD_"


def env_name(key: str) -> str:
    """The environment variable that answers ``key`` (``settings.base_url`` →
    ``TETHER_ADD_SETTINGS__BASE_URL``), like Terraform's ``TF_VAR_name``."""
    return ENV_PREFIX + key.replace(".", "__").upper()


@click.command()
@click.argument("service", required=False)
@click.argument("integration_id", metavar="[ID]", required=False)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Answer one field; repeat. FIELD=- reads the value from stdin (use it for secrets).",
)
@click.option("--no-input", is_flag=True, help="Never prompt, even on a terminal.")
@output.json_option
@click.pass_context
def add(
    ctx: click.Context,
    service: str | None,
    integration_id: str | None,
    assignments: tuple[str, ...],
    no_input: bool,
    as_json: bool,
) -> None:
    """Set up an integration: write integrations/ID.yaml and encrypted secrets/ID.sops.yaml.

    On a terminal it asks for each field of SERVICE's form (see `tether services`): name,
    capabilities, timezone, cron (checked, with the next runs shown), service settings and the
    credentials, secret ones without echo. Credentials are piped to `sops` and encrypted for the
    recipients in .sops.yaml; the plaintext never touches the disk.

    \b
    Without a terminal (or with --no-input) answers come from, in order:
      --set FIELD=VALUE          e.g. --set store_url=acme.myshopify.com
      --set FIELD=-              the value is read from stdin
      TETHER_ADD_FIELD           e.g. TETHER_ADD_ACCESS_TOKEN, TETHER_ADD_SETTINGS__BASE_URL
    Fields with a default may be left out; a missing required field is refused, by name.

    \b
    Examples:
      tether add shopify shopify_us
      printf %s "$TOKEN" | tether add shopify shopify_us --no-input \\
          --set store_url=acme.myshopify.com --set access_token=-
    """
    from tether.daemon.client import connect

    backend = connect(output.workspace(ctx), local=True)
    interactive = not no_input and sys.stdin.isatty() and sys.stdout.isatty()
    given = _given(assignments)
    catalogue = backend.call("add_form")["services"]
    if service is None:
        if not interactive:
            raise TetherError(
                "Which service? `tether add SERVICE [ID]` needs SERVICE without a terminal.",
                hint="Services: " + ", ".join(s["name"] for s in catalogue) + ".",
            )
        service = _ask_service(catalogue)
    elif service not in {s["name"] for s in catalogue}:
        from tether.config.integration import did_you_mean

        hint = did_you_mean(service, [s["name"] for s in catalogue])
        raise TetherError(
            f"Unknown service '{service}'.",
            hint=(hint + " " if hint else "")
            + "Services: "
            + ", ".join(s["name"] for s in catalogue)
            + ".",
        )
    form = backend.call("add_form", service=service)
    questions: list[dict[str, Any]] = form["questions"]
    _warn_secrets_on_command_line(questions, assignments)
    answers = _from_environment(questions, given)
    if interactive:
        out = output.console()
        out.print(f"[bold]New {form['display_name']} integration[/bold]  (* required)")
        integration_id = integration_id or _ask(
            backend,
            service,
            {"key": "id", "label": "Integration id", "default": form["default_id"]},
            "",
            {},
        )
        _check_id(backend, service, integration_id)
        _ask_all(backend, service, questions, answers)
    else:
        integration_id = integration_id or form["default_id"]
        _check_id(backend, service, integration_id)
        _refuse_missing(service, questions, answers)
    result = backend.call("add", service=service, id=integration_id, answers=answers)
    if as_json:
        output.echo_json(result)
        return
    _show_result(result)


def _given(assignments: tuple[str, ...]) -> dict[str, str]:
    given: dict[str, str] = {}
    from_stdin = [a.partition("=")[0] for a in assignments if a.partition("=")[2] == "-"]
    if len(from_stdin) > 1:
        raise TetherError(
            f"Only one field can be read from stdin; got {', '.join(from_stdin)}.",
            hint="Give the others in the environment (TETHER_ADD_FIELD).",
        )
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TetherError(f"--set {item!r} is not FIELD=VALUE.")
        if value == "-":
            value = sys.stdin.read().removesuffix("\n").removesuffix("\r")
        given[key.strip()] = value
    return given


def _from_environment(questions: list[dict[str, Any]], given: dict[str, str]) -> dict[str, str]:
    answers = dict(given)
    for q in questions:
        if q["key"] not in answers and f"credentials.{q['key']}" not in answers:
            value = os.environ.get(env_name(q["key"]))
            if value is not None:
                answers[q["key"]] = value
    return {k.removeprefix("credentials."): v for k, v in answers.items()}


def _warn_secrets_on_command_line(
    questions: list[dict[str, Any]], assignments: tuple[str, ...]
) -> None:
    secret = {q["key"] for q in questions if q["secret"]}
    for item in assignments:
        key, _, value = item.partition("=")
        bare = key.strip().removeprefix("credentials.")
        if bare in secret and value != "-":
            click.echo(
                f"Warning: --set {bare}=… puts a secret in the process list and shell history; "
                f"prefer --set {bare}=- (stdin) or {env_name(bare)}.",
                err=True,
            )


def _check_id(backend: Any, service: str, integration_id: str) -> None:
    checked = backend.call("add_check", service=service, key="id", text=integration_id)
    if checked["problem"]:
        raise TetherError(checked["problem"])


def _refuse_missing(service: str, questions: list[dict[str, Any]], answers: dict[str, str]) -> None:
    missing = [
        q
        for q in questions
        if q["required"] and q["default"] is None and not answers.get(q["key"], "").strip()
    ]
    if not missing:
        return
    listed = ", ".join(f"{q['key']} ({q['label']})" for q in missing)
    example = missing[0]["key"]
    raise TetherError(
        f"Not a terminal, and {service} needs: {listed}. Nothing was written.",
        hint=f"Give each with --set {example}=VALUE, --set {example}=- (stdin) or "
        f"{env_name(example)}; or run `tether add` on a terminal to be asked.",
    )


# -- asking ------------------------------------------------------------------------------------


def _ask_service(catalogue: list[dict[str, Any]]) -> str:
    out = output.console()
    out.print("[bold]Service[/bold] *")
    for n, svc in enumerate(catalogue, start=1):
        out.print(f"  {n:>2}. {svc['name']:<12} {svc['display_name']}: {svc['description']}")
    names: list[str] = [s["name"] for s in catalogue]
    with _completion(names):
        while True:
            text = str(click.prompt("Service", default="", show_default=False)).strip()
            if text.isdigit() and 0 < int(text) <= len(names):
                return names[int(text) - 1]
            if text in names:
                return text
            click.echo(f"  ✗ Unknown service '{text}'. Choose one of: {', '.join(names)}.")


def _ask_all(
    backend: Any, service: str, questions: list[dict[str, Any]], answers: dict[str, str]
) -> None:
    values: dict[str, Any] = {}
    advanced = [q for q in questions if q["advanced"] and q["key"] not in answers]
    for q in questions:
        if q["advanced"]:
            continue
        if q["section"] == "credentials" and advanced:
            if click.confirm("Change optional service settings?", default=False):
                for setting in advanced:
                    answers[setting["key"]] = _ask(backend, service, setting, "", values)
            advanced = []
        if q["key"] in answers:
            continue
        timezone = str(values.get("timezone") or answers.get("timezone") or "UTC")
        answers[q["key"]] = _ask(backend, service, q, timezone, values)


def _ask(
    backend: Any, service: str, q: dict[str, Any], timezone: str, values: dict[str, Any]
) -> str:
    """Ask one question until its answer passes the form's check; return the accepted text."""
    out = output.console()
    label = q["label"] + (" *" if q.get("required") and q.get("default") is None else "")
    if q.get("placeholder"):
        label += f" (e.g. {q['placeholder']})"
    if q.get("help"):
        out.print(f"[dim]{q['help']}[/dim]", markup=True, highlight=False)
    for n, choice in enumerate(q.get("choices") or [], start=1):
        out.print(f"  {n}. {choice['name']:<20} {choice['display_name']}: {choice['description']}")
    words = _words(q)
    with _completion(words):
        while True:
            text: str = click.prompt(
                label,
                default=q.get("default") or "",
                show_default=bool(q.get("default")),
                hide_input=bool(q.get("secret")),
            )
            checked = backend.call(
                "add_check", service=service, key=q["key"], text=text, timezone=timezone
            )
            if checked["problem"]:
                click.echo(f"  ✗ {checked['problem']}")
                continue
            for note in checked["notes"]:
                click.echo(f"  {note}")
            values[q["key"]] = checked["value"]
            return text


def _words(q: dict[str, Any]) -> list[str]:
    if q["key"] == "timezone":
        from zoneinfo import available_timezones

        return sorted(available_timezones())
    return [c["name"] for c in q.get("choices") or []]


@contextlib.contextmanager
def _completion(words: list[str]) -> Iterator[None]:
    """Tab completion for one prompt (click prompts read through ``input``, which uses readline
    when it is loaded). History is off, so typed credentials are not kept even in memory."""
    try:
        import readline
    except ImportError:  # no readline (Windows): prompts still work, without completion
        yield
        return
    readline.set_auto_history(False)
    previous = readline.get_completer()
    delims = readline.get_completer_delims()

    def complete(text: str, state: int) -> str | None:
        last = text.rsplit(",", 1)[-1].lstrip()
        head = text[: len(text) - len(last)]
        matches = [head + w for w in words if w.lower().startswith(last.lower())]
        return matches[state] if state < len(matches) else None

    readline.set_completer(complete)
    readline.set_completer_delims(" ")
    readline.parse_and_bind(
        "bind ^I rl_complete" if "libedit" in (readline.__doc__ or "") else "tab: complete"
    )
    try:
        yield
    finally:
        readline.set_completer(previous)
        readline.set_completer_delims(delims)


def _show_result(result: dict[str, Any]) -> None:
    out = output.console()
    count = len(result["recipients"])
    out.print(f"  created {result['integration']}", markup=False)
    out.print(
        f"  created {result['credentials']} (fields {', '.join(result['fields'])}; encrypted "
        f"with sops for {count} age recipient{'s' if count != 1 else ''}; values not shown)",
        markup=False,
    )
    out.print()
    out.print(
        f"Next: {result['next'][0]}   (then {result['next'][1]}; "
        f"`{result['next'][2]}` runs a first sync now)",
        markup=False,
    )
