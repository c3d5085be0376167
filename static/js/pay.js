// Card payment form: Stripe.js saves the card (SetupIntent), our server charges it, and the
// browser finishes 3-D Secure when the bank asks. Card numbers never reach our server. The words it writes
// come from the form's data-text-* attributes, in the page's language.
(function () {
  "use strict";
  var form = document.getElementById("pay-form");
  if (!form) { return; }
  var data = form.dataset;
  var stripe = Stripe(data.stripeKey);
  var card = stripe.elements({locale: data.locale}).create("card");
  card.mount("#card-element");
  var statusLine = document.getElementById("pay-status");
  var button = document.getElementById("pay-button");
  var csrf = form.querySelector("input[name=csrf_token]").value;
  var amount = document.getElementById("amount");
  var newCard = document.getElementById("new-card");

  var other = document.getElementById("choice-other");
  var full = form.querySelector("input[name=choice][value=full]");

  // The button names the amount; the amount box is read-only while "the full balance" is chosen.
  function buttonText() {
    var dollars = Number(amount.value.replace(/[$,\s]/g, ""));
    button.textContent = amount.value.trim() && isFinite(dollars) && dollars > 0
      ? data.textPayAmount.replace("{amount}", "$" + dollars.toLocaleString("en-US", {minimumFractionDigits: 2,
                                                                                      maximumFractionDigits: 2}))
      : data.textPay;
  }
  function followChoice() {
    amount.readOnly = full.checked;
    if (full.checked) { amount.value = amount.dataset.full; }
    buttonText();
  }
  function chooseOther() {
    if (amount.readOnly) { other.checked = true; followChoice(); }
  }
  form.querySelectorAll("input[name=choice]").forEach(function (radio) { radio.addEventListener("change", followChoice); });
  amount.addEventListener("click", chooseOther);
  amount.addEventListener("keydown", function (event) { if (event.key.length === 1) { chooseOther(); } });
  amount.addEventListener("input", function () { clearErrors(); buttonText(); });
  followChoice();

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
  // An error about one field sits at that field (and takes the focus there); others above the button.
  var fieldErrors = {amount: document.getElementById("amount-error"), card: document.getElementById("card-error")};
  function clearErrors() {
    Object.keys(fieldErrors).forEach(function (name) {
      fieldErrors[name].hidden = true;
      fieldErrors[name].textContent = "";
      fieldErrors[name].parentNode.classList.remove("has-error");
    });
    amount.removeAttribute("aria-invalid");
  }
  function sayAt(field, text) {
    var place = fieldErrors[field];
    if (!place) { say(text, true); return; }
    say("");
    place.textContent = text;
    place.hidden = false;
    place.parentNode.classList.add("has-error");
    if (field === "amount") { amount.setAttribute("aria-invalid", "true"); amount.focus(); }
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {status: "failed", message: data.textWentWrong}; });
    });
  }
  function finish(outcome) {
    if (outcome.status === "succeeded") { say(data.textReceived); window.location.assign(outcome.redirect); return; }
    if (outcome.token) { data.token = outcome.token; }
    var text = outcome.message || data.textFailed;
    if (outcome.field) { sayAt(outcome.field, text); } else { say(text, true); }
    button.disabled = false;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors();
    button.disabled = true;
    say(data.textProcessing);
    var saved = chosenCard();
    var saveBox = document.getElementById("save_card");
    var started = await post(data.startUrl, {
      token: data.token, amount: amount.value, saved_card_id: saved, save_card: !!(saveBox && saveBox.checked)
    });
    if (!started.attempt_id) { finish(started); return; }
    var paymentMethod = null;
    if (started.setup_client_secret) {
      var setup = await stripe.confirmCardSetup(started.setup_client_secret, {payment_method: {card: card}});
      if (setup.error) {
        // What is wrong with the card as typed (Stripe's own words) sits at the card; a bank's refusal
        // to confirm the card is said plainly.
        finish(setup.error.type === "validation_error"
          ? {status: "failed", field: "card", message: setup.error.message}
          : {status: "failed", message: data.textCardRefused});
        return;
      }
      paymentMethod = setup.setupIntent.payment_method;
    }
    var outcome = await post(data.confirmUrl, {attempt_id: started.attempt_id, payment_method_id: paymentMethod});
    if (outcome.status === "requires_action") {
      say(data.textBankConfirming);
      var confirmed = await stripe.confirmCardPayment(outcome.client_secret);
      outcome = await post(data.completeUrl, {attempt_id: started.attempt_id});
      if (confirmed.error && outcome.status !== "succeeded") {
        outcome.message = data.textNotConfirmed;
      }
    }
    finish(outcome);
  });
})();
