// Card preview (dev mode): the few interactions an EHR sidebar has. No framework, no build.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("preview-form");
  const example = document.getElementById("example");
  const hook = document.getElementById("hook");
  const pasted = document.getElementById("bundle");

  // Picking an example shows its cards at once, with the hook its table gives.
  example.addEventListener("change", () => {
    const chosen = example.selectedOptions[0];
    if (!chosen || !chosen.value) return;
    hook.value = chosen.dataset.hook || "";
    pasted.value = "";
    form.requestSubmit();
  });

  // A suggestion shows the actions the EHR would apply.
  for (const button of document.querySelectorAll("button.suggestion")) {
    button.addEventListener("click", () => {
      const actions = document.getElementById(button.getAttribute("aria-controls"));
      const open = button.getAttribute("aria-expanded") === "true";
      button.setAttribute("aria-expanded", String(!open));
      actions.hidden = open;
    });
  }

  // Dismissing a card with an override reason, as the EHR would record it.
  for (const button of document.querySelectorAll("button.dismiss-button")) {
    button.addEventListener("click", () => {
      const card = button.closest("article.card");
      const reason = document.getElementById(button.dataset.reason);
      card.querySelector(".card-body").hidden = true;
      const note = card.querySelector(".dismissed");
      note.textContent = "Dismissed: " + reason.selectedOptions[0].textContent;
      note.hidden = false;
    });
  }
});
