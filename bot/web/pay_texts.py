"""The payment page's words in each language; amounts and dates are formatted by Babel."""

from bot.money import money_var
from bot.templates import store as templates

TEXTS = {
    "es": {
        "title": "Tu pago",
        "balance": "Tu saldo",
        "due": "Vence el {date}",
        "reference": "Referencia {reference}",
        "options": "¿Cómo quieres pagar?",
        "pay_full": "Pagar todo: {amount}",
        "pay_discount": "Pagar {amount} y ahorrar {pct}% (hasta el {until})",
        "discount_note": "En lugar de {balance}, si pagas todo de una vez.",
        "pay_installment": "Pagar la cuota {seq} de {count}: {amount}",
        "installment_due": "Vence el {date}",
        "plan": "Pagar en cuotas",
        "plan_count": "Número de cuotas",
        "plan_choice": "{count} cuotas: primera de {first}, luego {each} al mes",
        "plan_fee": "Incluye un cargo de {fee} por el plan.",
        "plan_submit": "Crear mi plan",
        "promise": "Proponer una fecha de pago",
        "promise_date": "Fecha en que pagarás (hasta el {latest})",
        "promise_submit": "Confirmar fecha",
        "history": "Tus pagos",
        "no_history": "Todavía no hay pagos registrados.",
        "plan_schedule": "Tu plan de cuotas",
        "installment_row": "Cuota {seq}: {amount}, vence el {date}",
        "installment_paid": "pagada",
        "done_plan": "Listo: tu plan quedó creado. Puedes pagar la primera cuota ahora.",
        "done_promise": "Listo: anotamos que pagarás {amount} el {date}.",
        "paid_return": "Gracias: estamos confirmando tu pago. Te escribiremos por WhatsApp.",
        "promise_past": "Esa fecha ya pasó. Elige una fecha desde hoy.",
        "promise_too_far": "Esa fecha es muy lejana. La fecha máxima es el {latest}.",
        "bad_request": "No pudimos leer tu elección. Inténtalo de nuevo.",
        "provider_down": "No pudimos abrir el pago en este momento. Inténtalo en unos minutos.",
        "settled": "Tu cuenta está al día. ¡Gracias!",
        "not_collectible": "Esta cuenta está en revisión. Escríbenos por WhatsApp si tienes dudas.",
        "help": "¿Dudas? Escríbenos por WhatsApp",
        "status_succeeded": "recibido",
        "sandbox_title": "Pago de prueba (sandbox)",
        "sandbox_note": "Modo demostración: no se cobra nada real.",
        "sandbox_pay": "Pagar {amount}",
        "sandbox_paid": "Pago de prueba enviado. Vuelve a tu página de pago.",
        "back": "Volver a mi página de pago",
        "breakdown": "¿De qué se compone tu saldo?",
        "bd_principal": "Capital",
        "bd_interest": "Intereses de mora",
        "bd_fees": "Cargos por mora y del plan",
        "bd_payments": "Pagos recibidos",
        "bd_discounts": "Descuentos",
        "bd_rate": (
            "Los intereses de mora se calculan cada día sobre el capital vencido, a una tasa "
            "de {rate} % anual, nunca por encima del máximo legal."
        ),
        "partial": "Abonar otro monto",
        "partial_amount": "¿Cuánto quieres abonar? (mínimo {minimum})",
        "partial_submit": "Abonar",
        "partial_too_small": "El abono mínimo es de {minimum}.",
        "settlement": "Cierra tu cuenta con un acuerdo",
        "settlement_offer": (
            "Paga {amount} ({pct} % de tu saldo) hasta el {until} y cerramos tu cuenta: te "
            "condonamos {forgiven}."
        ),
        "settlement_accept": "Aceptar y pagar {amount}",
        "settlement_ask": "¿Puedes pagar otro monto para cerrarla?",
        "settlement_ask_submit": "Proponer este monto",
        "settlement_agreed": (
            "Tu acuerdo: paga {amount} hasta el {until} y tu cuenta queda cerrada."
        ),
        "settlement_pay": "Pagar mi acuerdo: {amount}",
        "settlement_counter": (
            "Lo mínimo que podemos aceptar es {amount} ({pct} % de tu saldo), pagado hasta el"
            " {until}."
        ),
        "settlement_none": "Por ahora no hay un acuerdo disponible para esta cuenta.",
        "promise_amount": "Monto que pagarás ese día (opcional; vacío = todo)",
    },
    "en": {
        "title": "Your payment",
        "balance": "Your balance",
        "due": "Due on {date}",
        "reference": "Reference {reference}",
        "options": "How would you like to pay?",
        "pay_full": "Pay in full: {amount}",
        "pay_discount": "Pay {amount} and save {pct}% (until {until})",
        "discount_note": "Instead of {balance}, if you pay everything at once.",
        "pay_installment": "Pay installment {seq} of {count}: {amount}",
        "installment_due": "Due on {date}",
        "plan": "Pay in installments",
        "plan_count": "Number of installments",
        "plan_choice": "{count} installments: first {first}, then {each} a month",
        "plan_fee": "Includes a plan fee of {fee}.",
        "plan_submit": "Create my plan",
        "promise": "Propose a payment date",
        "promise_date": "Date you will pay (by {latest})",
        "promise_submit": "Confirm date",
        "history": "Your payments",
        "no_history": "No payments yet.",
        "plan_schedule": "Your installment plan",
        "installment_row": "Installment {seq}: {amount}, due {date}",
        "installment_paid": "paid",
        "done_plan": "Done: your plan is set up. You can pay the first installment now.",
        "done_promise": "Done: we noted that you will pay {amount} on {date}.",
        "paid_return": "Thank you: we are confirming your payment. We'll message you on WhatsApp.",
        "promise_past": "That date has passed. Choose a date from today.",
        "promise_too_far": "That date is too far away. The latest date is {latest}.",
        "bad_request": "We couldn't read your choice. Please try again.",
        "provider_down": "We couldn't open the payment right now. Please try again shortly.",
        "settled": "Your account is settled. Thank you!",
        "not_collectible": "This account is under review. Write to us on WhatsApp with questions.",
        "help": "Questions? Write to us on WhatsApp",
        "status_succeeded": "received",
        "sandbox_title": "Test payment (sandbox)",
        "sandbox_note": "Demo mode: nothing real is charged.",
        "sandbox_pay": "Pay {amount}",
        "sandbox_paid": "Test payment sent. Go back to your payment page.",
        "back": "Back to my payment page",
        "breakdown": "What makes up your balance?",
        "bd_principal": "Principal",
        "bd_interest": "Late interest",
        "bd_fees": "Late and plan fees",
        "bd_payments": "Payments received",
        "bd_discounts": "Discounts",
        "bd_rate": (
            "Late interest is charged daily on the overdue principal at {rate}% a year, never"
            " above the legal maximum."
        ),
        "partial": "Pay another amount",
        "partial_amount": "How much would you like to pay? (minimum {minimum})",
        "partial_submit": "Pay this amount",
        "partial_too_small": "The minimum partial payment is {minimum}.",
        "settlement": "Close your account with a settlement",
        "settlement_offer": (
            "Pay {amount} ({pct}% of your balance) by {until} and we close your account, "
            "forgiving {forgiven}."
        ),
        "settlement_accept": "Accept and pay {amount}",
        "settlement_ask": "Can you pay another amount to close it?",
        "settlement_ask_submit": "Propose this amount",
        "settlement_agreed": "Your settlement: pay {amount} by {until} and your account is closed.",
        "settlement_pay": "Pay my settlement: {amount}",
        "settlement_counter": (
            "The least we can accept is {amount} ({pct}% of your balance), paid by {until}."
        ),
        "settlement_none": "There is no settlement available for this account right now.",
        "promise_amount": "Amount you will pay that day (optional; empty = all)",
    },
}


def texts(lang):
    """The page's words for a language ("es", "en"); Spanish when there are none for it."""
    return TEXTS.get(lang, TEXTS["es"])


class Fmt:
    """Money and dates in the debtor's locale (Babel)."""

    def __init__(self, tag, currency):
        self.locale = templates.babel_locale(tag)
        self.currency = currency

    def money(self, minor):
        return templates.format_money(money_var(minor, self.currency), self.locale)

    def date(self, day):
        return templates.format_value("date", day, self.locale)
