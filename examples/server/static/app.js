// Copy buttons: <button data-copy="ID" hidden> copies the value of the field #ID. The button
// is hidden until this script shows it, so that without JavaScript the page offers only what
// works (the secret stays selectable in its read-only field).
"use strict";
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  var field = document.getElementById(button.dataset.copy);
  var status = document.getElementById("copy-status");
  if (!field) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var said = function (text) {
      if (status) {
        status.textContent = text;
      }
    };
    field.focus();
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(
        function () { said("Copied to the clipboard."); },
        function () { said("Press Ctrl+C (⌘C) to copy the selected secret."); });
    } else {
      said(document.execCommand("copy") ? "Copied to the clipboard." : "Press Ctrl+C (⌘C) to copy the selected secret.");
    }
  });
});
