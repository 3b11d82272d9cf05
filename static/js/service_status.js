// Admin "Status dos serviços": live row updates from the service-status group (pushed on change).
(function () {
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var socket;
  function connect() {
    socket = new WebSocket(scheme + location.host + "/ws/services/");
    socket.onmessage = function (e) {
      var data = JSON.parse(e.data);
      if (data.type !== "service.status") return;
      var row = document.querySelector('tr[data-service="' + data.name + '"]');
      if (!row) return;
      row.children[1].textContent = data.state;
      row.children[1].className = "state state-" + data.state;
      row.children[2].textContent = data.message;
      row.children[3].textContent = data.checked_at || "—";
    };
    socket.onclose = function () { setTimeout(connect, 5000); };
  }
  connect();
})();
