// Live updates for the console: poll small JSON views and redraw with textContent (no HTML
// from the server is ever inserted, so a debtor's words cannot become markup).
(function () {
  "use strict";
  var INTERVAL = 3000;

  function poll(url, draw) {
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) {
          if (r.status === 401) { window.location.reload(); return null; }
          return r.ok ? r.json() : null;
        })
        .then(function (data) { if (data) { draw(data); } })
        .catch(function () {})
        .then(function () { setTimeout(tick, INTERVAL); });
    }
    setTimeout(tick, INTERVAL);
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  var table = document.querySelector("table[data-queue-url]");
  if (table) {
    poll(table.getAttribute("data-queue-url"), function (data) {
      var body = document.getElementById("queue-body");
      body.textContent = "";
      if (!data.items.length) {
        var empty = document.createElement("tr");
        empty.className = "empty";
        cell(empty, table.getAttribute("data-empty") || "Nobody is waiting.").colSpan = 6;
        body.appendChild(empty);
      }
      data.items.forEach(function (item) {
        var row = document.createElement("tr");
        row.setAttribute("data-id", item.id);
        cell(row, "P" + item.priority);
        var who = cell(row, "");
        var link = document.createElement("a");
        link.href = item.url;
        link.textContent = item.debtor;
        who.appendChild(link);
        var addr = document.createElement("span");
        addr.className = "muted";
        addr.textContent = " " + item.address;
        who.appendChild(addr);
        cell(row, item.reason_label);
        cell(row, Math.floor(item.waiting_seconds / 60) + " " + (table.getAttribute("data-minutes") || "min"));
        cell(row, item.channel);
        cell(row, item.agent || "—");
        body.appendChild(row);
      });
    });
  }

  var view = document.querySelector("[data-conversation-url]");
  if (view) {
    poll(view.getAttribute("data-conversation-url"), function (data) {
      var list = document.getElementById("messages");
      var state = document.getElementById("conv-state");
      var labels = JSON.parse(view.getAttribute("data-labels") || "{}");
      var states = labels.states || {};
      if (state) { state.textContent = states[data.state] || data.state; }
      data.messages.forEach(function (m) {
        var item = list.querySelector('li[data-id="' + m.id + '"]');
        if (!item) {
          item = document.createElement("li");
          item.className = "msg " + m.direction;
          item.setAttribute("data-id", m.id);
          var body = document.createElement("span");
          body.className = "body";
          body.textContent = m.body;
          var meta = document.createElement("span");
          meta.className = "meta";
          meta.textContent = m.at + (m.author ? " · " + m.author : "") + " · ";
          var status = document.createElement("span");
          status.className = "status";
          meta.appendChild(status);
          item.appendChild(body);
          item.appendChild(meta);
          list.appendChild(item);
          list.scrollTop = list.scrollHeight;
        }
        item.querySelector(".status").textContent = m.status_label || m.status;
      });
    });
  }
})();
