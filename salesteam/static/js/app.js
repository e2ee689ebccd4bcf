// Progressive enhancement only: every form also works without JavaScript.
document.addEventListener("change", (event) => {
  if (event.target.matches("select.js-autosubmit")) {
    event.target.form.requestSubmit();
  }
});

// A table wider than its box scrolls sideways inside it; keyboard users reach it with Tab.
const focusableWhenScrolling = () => {
  document.querySelectorAll(".table-wrap").forEach((wrap) => {
    if (wrap.scrollWidth > wrap.clientWidth) {
      wrap.tabIndex = 0;
    } else {
      wrap.removeAttribute("tabindex");
    }
  });
};
focusableWhenScrolling();
window.addEventListener("resize", focusableWhenScrolling);

// The policy forbids inline handlers (onclick=...): buttons that print carry the class js-print.
document.addEventListener("click", (event) => {
  if (event.target.closest(".js-print")) {
    window.print();
  }
});

// Polls a progress endpoint (data-progress-url) and updates the bar until the work is done.
document.querySelectorAll("[data-progress-url]").forEach((el) => {
  const bar = el.querySelector(".bar-fill");
  const label = el.querySelector(".progress-label");
  const tick = async () => {
    const response = await fetch(el.dataset.progressUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const data = await response.json();
    if (bar) bar.style.width = `${data.percent}%`;
    const native = el.querySelector("progress");
    if (native) native.value = data.percent;
    label.textContent = data.label;
    if (data.finished) {
      window.location.reload();
    } else {
      setTimeout(tick, 1000);
    }
  };
  setTimeout(tick, 1000);
});

// A search input (data-search-url) suggests matches as the user types: the API's ?search= results
// fill the <datalist> the input points to, each option's value from data-value-field and its label
// from data-label-fields.
document.querySelectorAll("input[data-search-url]").forEach((input) => {
  const list = document.getElementById(input.getAttribute("list"));
  const labels = (input.dataset.labelFields || "").split(" ").filter(Boolean);
  let timer;
  let shown = "";
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const term = input.value.trim();
    if (term.length < 2) {
      list.replaceChildren();
      shown = "";
      return;
    }
    if (term === shown) return;
    timer = setTimeout(async () => {
      try {
        const url = `${input.dataset.searchUrl}?search=${encodeURIComponent(term)}`;
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        // A newer term is being looked up: this answer is stale.
        if (!response.ok || input.value.trim() !== term) return;
        const data = await response.json();
        list.replaceChildren(
          ...data.results.map((item) => {
            const option = document.createElement("option");
            option.value = item[input.dataset.valueField];
            option.label = labels.map((field) => item[field]).filter(Boolean).join(" · ");
            return option;
          }),
        );
        shown = term;
      } catch {
        // Offline or the server failed: the field still takes an id or a name typed in full.
      }
    }, 250);
  });
});
