// Save a card for automatic payments: Stripe.js confirms a SetupIntent; no money moves.
(function () {
  "use strict";
  var form = document.getElementById("card-form");
  if (!form) { return; }
  var data = form.dataset;
  var stripe = Stripe(data.stripeKey);
  var card = stripe.elements({locale: data.locale}).create("card");
  card.mount("#card-element");
  var statusLine = document.getElementById("card-status");
  var button = form.querySelector("button[type=submit]");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf}, body: JSON.stringify(body)})
      .then(function (r) { return r.json(); });
  }
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    statusLine.textContent = data.textSaving;
    var started = await post(data.startUrl, {});
    if (!started.setup_client_secret) { statusLine.textContent = started.message; button.disabled = false; return; }
    var result = await stripe.confirmCardSetup(started.setup_client_secret, {payment_method: {card: card}});
    if (result.error) { statusLine.textContent = result.error.message; button.disabled = false; return; }
    var done = await post(data.finishUrl, {setup_intent_id: started.setup_intent_id});
    if (done.redirect) { window.location.assign(done.redirect); return; }
    statusLine.textContent = done.message;
    button.disabled = false;
  });
})();
