/* Registry import page: refuse a file over the import limit before sending it.
   `<input type=file data-max-bytes="N" data-too-large="message">`: the server stops such an
   upload while it arrives, and a browser may then show a reset connection instead of the
   page's message, so the browser checks the size first. */
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[type=file][data-max-bytes]")) return;
    var limit = Number(input.dataset.maxBytes);
    var file = input.files && input.files[0];
    input.setCustomValidity(file && file.size > limit ? input.dataset.tooLarge || "" : "");
    input.reportValidity();
  });
})();
