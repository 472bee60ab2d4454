// The navigation's fold at phone width: the button opens and closes it, and says which it is.
document.addEventListener("click", function (event) {
  var button = event.target.closest(".nav-toggle");
  if (!button) return;
  var open = button.closest("header").classList.toggle("open");
  button.setAttribute("aria-expanded", open ? "true" : "false");
});
