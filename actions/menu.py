"""The main menu: what debtors most often came for, offered after verification and to a yes or
no that answers no question, so nobody has to guess that plans, more time and a link exist. On
WhatsApp it goes as a list picker where help.menu is linked to an approved list-picker Content
template (Admin > Templates), as numbered lines otherwise."""

from .context import say_with_choices

MENU_CHOICES = [
    {"title_template": "button.balance", "payload": "/ask_balance"},
    {"title_template": "button.pay_now", "payload": "/request_payment_link"},
    {"title_template": "button.plan", "payload": "/request_installments"},
    {"title_template": "button.more_time", "payload": "/request_deferral"},
    {"title_template": "button.agent", "payload": "/request_agent"},
]


def say_menu(dispatcher, template="help.menu", **variables):
    say_with_choices(dispatcher, template, MENU_CHOICES, **variables)
