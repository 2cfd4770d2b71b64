"""The "New integration" form (command palette → New integration): `tether add` as a screen.

Fields come from the service's metadata through ``SetupSource``, like the command's prompts;
each answer is checked as it is typed (the cron shows its next runs in the chosen timezone) and
nothing is written until Create succeeds. Secret fields are password inputs and are never shown
again: the screen dismisses with what was written, not with the values.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, SelectionList, Static

from tether.errors import TetherError
from tether.tui.setup_source import SetupSource


def widget_id(key: str) -> str:
    return "field-" + key.replace(".", "__")


class AddIntegrationDialog(ModalScreen[dict[str, Any] | None]):
    """Dismisses with the `add` result (paths, field names), or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, setup: SetupSource) -> None:
        super().__init__()
        self.setup = setup
        self.service: str | None = None
        self.questions: list[dict[str, Any]] = []
        self.problems: dict[str, str | None] = {}

    def compose(self) -> ComposeResult:
        catalogue = self.setup.catalogue()
        with Vertical(classes="dialog add"):
            yield Static("New integration", classes="dialog-title")
            yield Select(
                [(f"{s['display_name']}: {s['description']}", s["name"]) for s in catalogue],
                prompt="Service *",
                id="service",
            )
            yield VerticalScroll(id="fields")
            yield Static("", id="outcome")
            yield Button("Create", id="create", variant="primary", disabled=True)
            yield Static("Checked as you type · Tab next field · Esc cancel", classes="dialog-keys")

    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "service" or not isinstance(event.value, str):
            return
        self.service = event.value
        form = self.setup.form(event.value)
        self.questions = [q for q in form["questions"] if not q["advanced"]]
        self.problems = {}
        fields = self.query_one("#fields", VerticalScroll)
        await fields.remove_children()
        widgets: list[Widget] = [
            *self._field("id", "Integration id *", Input(value=form["default_id"], id="field-id")),
        ]
        for q in self.questions:
            widgets.extend(self._question_widgets(q))
        await fields.mount_all(widgets)
        for q in [{"key": "id"}, *self.questions]:
            self._check(q["key"])

    def _field(self, key: str, label: str, widget: Widget, help: str = "") -> list[Widget]:
        text = Text(label, style="bold") + Text(f"  {help}" if help else "", style="dim")
        return [
            Static(text, classes="field-label"),
            widget,
            Static("", id=f"{widget_id(key)}-note"),
        ]

    def _question_widgets(self, q: dict[str, Any]) -> list[Widget]:
        key = q["key"]
        label = q["label"] + (" *" if q["required"] and q["default"] is None else "")
        if key == "capabilities":
            chosen = set((q["default"] or "").split(","))
            widget: Widget = SelectionList[str](
                *[
                    (f"{c['display_name']}: {c['description']}", c["name"], c["name"] in chosen)
                    for c in q["choices"]
                ],
                id=widget_id(key),
            )
        elif q["kind"] == "boolean":
            widget = Checkbox(q["label"], value=q["default"] == "yes", id=widget_id(key))
        else:
            suggester = None
            if key == "timezone":
                from zoneinfo import available_timezones

                suggester = SuggestFromList(sorted(available_timezones()), case_sensitive=False)
            widget = Input(
                value=q["default"] or "",
                placeholder=q["placeholder"],
                password=q["secret"],
                suggester=suggester,
                id=widget_id(key),
            )
        # the capabilities' own descriptions are the help; the prompt's "names or numbers" is not
        return self._field(key, label, widget, "" if key == "capabilities" else q["help"])

    # -- checking as you type ----------------------------------------------------------------
    def _text(self, key: str) -> str:
        widget = self.query_one(f"#{widget_id(key)}")
        if isinstance(widget, SelectionList):
            # "," when none is ticked: a blank answer would mean "the default" (all of them)
            return ",".join(str(v) for v in widget.selected) or ","
        if isinstance(widget, Checkbox):
            return "yes" if widget.value else "no"
        assert isinstance(widget, Input)
        return widget.value

    def _check(self, key: str) -> None:
        if self.service is None:
            return
        timezone = self._text("timezone") if key == "cron" else "UTC"
        checked = self.setup.check(self.service, key, self._text(key), timezone)
        note = self.query_one(f"#{widget_id(key)}-note", Static)
        self.problems[key] = checked["problem"]
        if checked["problem"]:
            note.update(Text(f"✗ {checked['problem']}", style="red"))
        else:
            note.update(Text("\n".join(checked["notes"])))
        self.query_one("#create", Button).disabled = any(self.problems.values())

    def on_input_changed(self, event: Input.Changed) -> None:
        key = self._key_of(event.input)
        if key is not None:
            self._check(key)
            if key == "timezone":
                self._check("cron")  # its preview is in the chosen timezone

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        self._check("capabilities")

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        key = self._key_of(event.checkbox)
        if key is not None:
            self._check(key)

    def _key_of(self, widget: Widget) -> str | None:
        if widget.id is None or not widget.id.startswith("field-"):
            return None
        return widget.id.removeprefix("field-").replace("__", ".")

    # -- creating ------------------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "create" or self.service is None:
            return
        answers = {q["key"]: self._text(q["key"]) for q in self.questions}
        try:
            result = self.setup.add(self.service, self._text("id").strip(), answers)
        except TetherError as exc:
            self.query_one("#outcome", Static).update(Text(exc.render(), style="red"))
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)
