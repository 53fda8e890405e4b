// The guardian's payment page: poll the order until it is paid (the provider's notification may
// come after the parent is back), then go to the statement; inside WeChat, open the JSAPI payment.
(function () {
  var box = document.getElementById("topup-pay");
  if (!box || box.dataset.status !== "created") return;
  var params = document.getElementById("jsapi-params");
  if (params && window.WeixinJSBridge) {
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", JSON.parse(params.textContent), function () {});
  }
  var tries = 0;
  function poll() {
    tries += 1;
    fetch(box.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.paid) { window.location = box.dataset.statementUrl; return; }
        if (tries < 150) setTimeout(poll, 2000);
      })
      .catch(function () { if (tries < 150) setTimeout(poll, 4000); });
  }
  setTimeout(poll, 1500);
})();
