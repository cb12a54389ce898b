// The script picker beside a text box (players.admin.scripts.ScriptInsertTextarea):
// "Insert script" asks the server for the script filled in for the player and puts it
// at the cursor. The player is the widget's own, or the form's player field.
"use strict";
document.addEventListener("click", async (event) => {
  const button = event.target.closest(".script-insert-button");
  if (!button) return;
  const box = button.closest(".script-insert");
  const choice = box.querySelector(".script-insert-choice");
  const area = box.querySelector("textarea");
  const error = box.querySelector(".script-insert-error");
  const form = box.closest("form");
  const playerField = form && form.querySelector("[name=player]");
  const player = box.dataset.player || (playerField ? playerField.value : "");
  error.style.display = "none";
  if (!choice.value) return;
  const url = box.dataset.insertUrl.replace(/\/0\/insert\/$/, `/${choice.value}/insert/`);
  const response = await fetch(`${url}?player=${encodeURIComponent(player)}`, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  let body = {};
  try {
    body = await response.json();
  } catch (e) {
    body = { error: response.statusText };
  }
  if (!response.ok || !body.text) {
    error.textContent = body.error || response.statusText;
    error.style.display = "";
    return;
  }
  const start = area.selectionStart ?? area.value.length;
  const end = area.selectionEnd ?? area.value.length;
  const before = area.value.slice(0, start);
  const glue = before && !before.endsWith("\n") ? "\n" : "";
  area.value = before + glue + body.text + area.value.slice(end);
  area.focus();
  area.dispatchEvent(new Event("input", { bubbles: true }));
});
