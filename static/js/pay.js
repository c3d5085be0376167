// Card payment form: Stripe.js saves the card (SetupIntent), our server charges it, and the
// browser finishes 3-D Secure when the bank asks. Card numbers never reach our server.
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form) { return; }
  var data = form.dataset;
  var stripe = Stripe(data.stripeKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  var statusLine = document.getElementById("pay-status");
  var button = document.getElementById("pay-button");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var amount = document.getElementById("amount");
  var newCard = document.getElementById("new-card");

  amount.addEventListener("input", function () { document.getElementById("choice-other").checked = true; });
  form.querySelectorAll("input[name=choice]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (radio.value === "full" && radio.checked) { amount.value = amount.dataset.full; }
    });
  });
  function chosenCard() {
    var picked = form.querySelector("input[name=card_choice]:checked");
    return picked && picked.value !== "new" ? picked.value : null;
  }
  function showNewCard() { newCard.hidden = chosenCard() !== null; }
  form.querySelectorAll("input[name=card_choice]").forEach(function (r) { r.addEventListener("change", showNewCard); });
  showNewCard();

  function say(text, isError) {
    statusLine.textContent = text;
    statusLine.className = "pay-status" + (isError ? " error" : "");
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {status: "failed", message: "Something went wrong. Nothing was charged."}; });
    });
  }
  function finish(outcome) {
    if (outcome.status === "succeeded") { say("Payment received. Opening your receipt…"); window.location.assign(outcome.redirect); return; }
    if (outcome.token) { data.token = outcome.token; }
    say(outcome.message || "The payment did not go through. Nothing was charged.", true);
    button.disabled = false;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    button.disabled = true;
    say("Processing your payment…");
    var saved = chosenCard();
    var saveBox = document.getElementById("save_card");
    var started = await post(data.startUrl, {
      token: data.token, amount: amount.value, saved_card_id: saved, save_card: !!(saveBox && saveBox.checked)
    });
    if (!started.attempt_id) { finish(started); return; }
    var paymentMethod = null;
    if (started.setup_client_secret) {
      var setup = await stripe.confirmCardSetup(started.setup_client_secret, {payment_method: {card: card}});
      if (setup.error) { finish({status: "failed", message: setup.error.message}); return; }
      paymentMethod = setup.setupIntent.payment_method;
    }
    var outcome = await post(data.confirmUrl, {attempt_id: started.attempt_id, payment_method_id: paymentMethod});
    if (outcome.status === "requires_action") {
      say("Your bank wants to confirm this payment…");
      await stripe.confirmCardPayment(outcome.client_secret);
      outcome = await post(data.completeUrl, {attempt_id: started.attempt_id});
    }
    finish(outcome);
  });
})();
