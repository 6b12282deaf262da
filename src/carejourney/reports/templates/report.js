(function () {
  "use strict";
  var config = {displaylogo: false, responsive: true, modeBarButtonsToRemove: ["sendDataToCloud", "lasso2d", "select2d"]};
  var nodes = document.querySelectorAll("[data-figure]");
  for (var i = 0; i < nodes.length; i++) {
    var el = nodes[i];
    var fig = JSON.parse(document.getElementById(el.getAttribute("data-figure")).textContent);
    window.Plotly.newPlot(el, fig.data, fig.layout, config);
  }
  document.documentElement.setAttribute("data-charts-ready", String(nodes.length));
})();
