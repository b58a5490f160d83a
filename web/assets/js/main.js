// the web app: see web/ (being written)
document.getElementById("app").textContent = "fleetdesk";
