/* The periodic task form of the admin: under the crontab field, its schedule in words
   (django-celery-beat does this with an inline script, which the Content-Security-Policy blocks). */
(function () {
  "use strict";
  var data = document.getElementById("readable-crontabs");
  var field = document.querySelector(".field-crontab");
  var select = document.getElementById("id_crontab");
  if (!data || !field || !select) {
    return;
  }
  var readable = JSON.parse(data.textContent || "{}");
  var help = field.querySelector(".help");
  var original = help ? help.textContent : "";
  var translation = document.querySelector(".field-crontab_translation");
  if (translation) {
    translation.style.display = "none";  // CSSOM, which the policy allows (a style attribute it would not)
  }
  function show() {
    if (!help) {
      return;
    }
    var words = readable[select.value];
    help.textContent = original;
    if (words) {
      help.appendChild(document.createElement("br"));
      help.appendChild(document.createTextNode("Translation: " + words));
    }
  }
  select.addEventListener("change", show);
  show();
})();
