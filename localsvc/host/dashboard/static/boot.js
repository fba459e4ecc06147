// Loads the page's modules (app.js and what it imports). Chromium cancels the requests in flight
// when the machine's network interfaces change (net::ERR_NETWORK_CHANGED), and Docker changes
// them for every container it starts: a module that failed to load is retried by reloading the
// page, twice at most, instead of leaving a page stuck at "connecting…".
(() => {
  const KEY = "localsvc-dashboard-reloads";
  const script = document.createElement("script");
  script.type = "module";
  script.src = "/static/app.js";
  script.onload = () => sessionStorage.removeItem(KEY);
  script.onerror = () => {
    const tries = Number(sessionStorage.getItem(KEY) || 0);
    if (tries < 2) {
      sessionStorage.setItem(KEY, String(tries + 1));
      setTimeout(() => location.reload(), 300);
      return;
    }
    sessionStorage.removeItem(KEY);
    const status = document.getElementById("status");
    status.textContent = "✗ the page's scripts did not load: reload the page";
    status.classList.add("failed");
  };
  document.head.appendChild(script);
})();
