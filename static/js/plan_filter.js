// The estimate form: the plan list shows only the chosen insurer's plans (each reads "Insurer: Plan").
(function () {
  var payer = document.getElementById("payer"), plan = document.getElementById("plan");
  if (!payer || !plan) return;
  function filter() {
    var prefix = payer.value ? payer.options[payer.selectedIndex].text + ": " : null;
    Array.prototype.forEach.call(plan.options, function (option) {
      var shown = !option.value || prefix === null || option.text.indexOf(prefix) === 0;
      option.hidden = !shown;
      option.disabled = !shown;
    });
    if (plan.options[plan.selectedIndex] && plan.options[plan.selectedIndex].disabled) plan.value = "";
  }
  payer.addEventListener("change", filter);
  filter();
})();
