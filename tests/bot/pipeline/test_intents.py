"""Intents behind a message: what a customer wants, in their words and language.

The behaviour a user notices: someone leaving or disputing a charge goes to a person, a
plain "thanks, that worked" closes quietly, anything more than thanks gets an answer, and a
look-alike question ("cancel a scheduled export", "our legal team needs the DPA") is not
mistaken for a threat to leave or to sue.
"""

from __future__ import annotations

import pytest

from bot.pipeline import intents
from bot.pipeline.triage import Flag, triage


def test_cancelling_and_disputing_the_charge_escalates_as_churn() -> None:
    result = triage("I'm cancelling and disputing the charge")
    assert result.has(Flag.CHURN)
    assert any(r.startswith("churn:") and "disputing the charge" in r
               for r in result.escalation_reasons)
    assert not result.acknowledgement


@pytest.mark.parametrize("text", [
    "We cancelled the subscription last week and you charged us again",
    "I've opened a dispute with my credit card company",
    "Please stop my plan from renewing",
    "Ich habe meinen Vertrag gekündigt",
    "Bitte löschen Sie meinen Account",
    "Nous résilions notre contrat",
    "Quiero darme de baja del servicio",
    "Ho deciso di disdire l'abbonamento",
    "Chcę anulować subskrypcję",
    "Vi säger upp vårt avtal",
    "Üyeliğimi iptal ettim",
    "Chci zrušit předplatné",
    "退会手続きをお願いします",
    "I reported the payment as fraud to my bank.",
    "We're unhappy and looking for another provider.",
    "Zum Monatsende kündigen wir.",
])
def test_leaving_in_many_languages_and_inflections_is_churn(text: str) -> None:
    assert triage(text).has(Flag.CHURN), text


@pytest.mark.parametrize("text", [
    "I'm not cancelling my subscription, I only want to pause it for a month.",
    "We do not want to cancel our plan, just move it to another card.",
    "Ich kündige mein Abo nicht, ich will nur den Tarif wechseln.",
    "Je ne résilie pas mon abonnement, je change juste de carte.",
    "No voy a cancelar mi suscripción, solo quiero cambiar la tarjeta.",
])
def test_a_negated_wish_to_leave_is_not_churn(text: str) -> None:
    assert not triage(text).has(Flag.CHURN), text


def test_cannot_is_not_a_negation_of_the_wish() -> None:
    # Someone who can't find the button still wants to leave.
    assert triage("I can't cancel my subscription, the button is greyed out").has(Flag.CHURN)


@pytest.mark.parametrize("text", [
    "How do I cancel a scheduled export?",
    "Does the API support cancelling a subscription on behalf of our own end users?",
    "Does the payments add-on send chargeback notifications for our shop?",
    "Wie kann ich einen geplanten Export abbrechen?",
    "Planlanmış bir dışa aktarımı nasıl iptal ederim?",
    "Jak zruším naplánovaný export?",
    "How do I export my data to CSV?",
    "We are looking for a new tool to connect with your API, any recommendations?",
    "Is the app compliant with the Data Protection Act? Our DPO asks.",
])
def test_cancelling_something_else_is_not_churn(text: str) -> None:
    assert triage(text).escalation_reasons == [], text


@pytest.mark.parametrize("text", [
    "Can I speak with a real person?",
    "Could someone from billing call me back?",
    "Ich hätte gerne einen Rückruf.",
    "Pouvez-vous me rappeler ?",
    "Proszę o kontakt z konsultantem.",
    "Kan jag få prata med någon på supporten?",
    "Müşteri temsilcisiyle görüşmek istiyorum.",
    "Chtěl bych mluvit s operátorem.",
    "Соедините меня с оператором, пожалуйста.",
    "オペレーターにつないでください。",
    "Transfer me to customer service.",
    "Who can I call about this? I'd prefer a phone conversation.",
    "Můžete mi prosím zavolat?",
])
def test_asking_for_a_person_in_many_languages(text: str) -> None:
    result = triage(text)
    assert result.wants_human, text
    assert any(r.startswith("wants human:") for r in result.escalation_reasons)


@pytest.mark.parametrize("text", [
    "We need an agent license for our new hire, how much is it?",
    "How do I give a person on my team read-only access?",
    "Can a human approve each invoice before it is sent?",
    "Can I set a human-readable name for my API keys?",
    "Kann ich einen Mitarbeiter als Admin hinzufügen?",
])
def test_people_in_product_questions_are_not_requests_for_a_person(text: str) -> None:
    assert not triage(text).wants_human, text


@pytest.mark.parametrize("text", [
    "Under GDPR I request a copy of all data you hold about me.",
    "You'll hear from our legal department.",
    "This violates the Consumer Rights Act.",
    "Gemäß DSGVO verlange ich Auskunft.",
    "Zwrócę się do prawnika.",
    "Avukatıma danışacağım.",
    "弁護士に相談します。",
])
def test_legal(text: str) -> None:
    assert triage(text).legal, text


@pytest.mark.parametrize("text", [
    "Where can I find your legal notice page?",
    "Our legal team asked whether you sign a DPA.",
    "The court reporting template doesn't print the header.",
    "Our police department would like a public sector discount.",
])
def test_paperwork_and_look_alikes_are_not_legal(text: str) -> None:
    assert not triage(text).legal, text


@pytest.mark.parametrize("text", [
    "Frechheit, schon wieder doppelt abgebucht.",
    "Estoy harto de esperar.",
    "C'est inadmissible.",
    "Worst support I've ever dealt with.",
    "Thanks for nothing.",
    "Det här är helt oacceptabelt.",
    "最悪の対応です。",
])
def test_one_unmistakable_phrase_of_anger_is_enough(text: str) -> None:
    assert triage(text).angry, text


@pytest.mark.parametrize("text", [
    "Oh great, another outage. Really fantastic service.",
    "Wow, thanks a lot for deleting my projects. Brilliant work.",
    "Super, wieder mal ein Update, das alles kaputt macht. Toll gemacht.",
])
def test_sarcasm_is_angry(text: str) -> None:
    result = triage(text)
    assert result.angry, text
    assert not result.acknowledgement
    assert any(f.signal == "sarcasm" for f in result.findings)


def test_praise_without_a_complaint_is_not_sarcasm() -> None:
    result = triage("Great job, it works again. Thank you!")
    assert not result.angry
    assert result.acknowledgement


@pytest.mark.parametrize("text", [
    "thanks, that worked",
    "Thank you, the invoice came through.",
    "Great, thanks - no further questions.",
    "Many thanks, problem solved.",
    "Vielen Dank, jetzt klappt alles.",
    "Obrigado, funcionou!",
    "Tack, nu fungerar det!",
    "Děkuji, funguje to!",
    "Спасибо, всё работает!",
    "ありがとうございます、解決しました！",
])
def test_thanks_that_closes_the_conversation(text: str) -> None:
    assert triage(text).acknowledgement, text


@pytest.mark.parametrize("text", [
    "thanks, but it still fails",
    "Thanks in advance, how do I change the billing email",
    "No thanks, I don't want the upgrade.",
    "Thanks. Please also send me the receipt.",
    "Danke, aber der Fehler kommt immer noch.",
    "Merci, mais le problème persiste.",
    "Teşekkürler ama hâlâ çalışmıyor.",
    "ありがとうございます。でもまだエラーが出ます。",
    "Need this fixed ASAP, the filing deadline is tomorrow morning.",
])
def test_thanks_with_more_to_do_gets_an_answer(text: str) -> None:
    assert not triage(text).acknowledgement, text


def test_urgency_from_scale_and_deadlines_but_not_when_told_there_is_no_rush() -> None:
    assert triage("Orders aren't syncing for any of our 300 stores").urgent
    assert triage("Pilne: nikt z zespołu nie może się zalogować").urgent
    assert not triage("Not urgent, but the export is slow").urgent
    assert not triage("Is the deadline for the annual discount still 31 December?").urgent


def test_affirmed_drops_negated_phrases_and_keeps_the_rest() -> None:
    text = "I won't renew. I'm not cancelling the add-on, but cancel my plan."
    found = intents.affirmed(intents.CHURN, text)
    assert "won't renew" in found
    assert "cancel my plan" in found
    assert not any("add-on" in phrase for phrase in found)


@pytest.mark.parametrize("text", [
    "Can someone with a pulse look at this? The help articles go in circles.",
    "I need to speak with your billing department directly please, not a chatbot.",
    "please get an engineer on the phone asap",
    "Can someone on your end get on a call with us right now?",
    "Is there anybody on your side I could actually discuss this with?",
    "Please pass this on to a colleague who can make decisions.",
    "Ich möchte bitte mit jemandem aus Ihrem Team telefonieren.",
])
def test_indirect_requests_for_a_person(text: str) -> None:
    assert triage(text).wants_human


@pytest.mark.parametrize("text", [
    "My bank will hear about this charge.",
    "Cancelling today and telling my bank to reverse both charges.",
    "I'm cancelling the second my annual plan is up.",
    "Unfortunately we've decided to cancel anyway.",
    "I want a full refund and I want my account closed.",
    "we're switching to Zendesk at the end of the quarter",
    "Consider this our notice: we won't be continuing.",
    "I plan to let my membership lapse.",
    "I will be taking my business elsewhere.",
    "He reclamado el cargo a mi banco.",
    "Nous allons changer de prestataire à la fin du mois.",
])
def test_leaving_said_without_the_usual_words_is_churn(text: str) -> None:
    assert triage(text).has(Flag.CHURN)


@pytest.mark.parametrize("text", [
    "We reserve the right to pursue all available legal remedies.",
    "This serves as formal notice that the invoice is in breach of section 7.2.",
    "We will be seeking damages for the downtime.",
    "Złożę skargę do UOKiK.",
])
def test_legal_in_a_formal_register(text: str) -> None:
    assert triage(text).legal


@pytest.mark.parametrize("text", [
    "We're switching to annual billing, what's the discount?",
    "I'm not cancelling, I just want to pause my subscription for two months.",
    "I cancelled the meeting invite by mistake, can I restore it?",
    "Can customers cancel their own bookings from the widget?",
    "Is there a way to schedule a call reminder for my clients through the app?",
    "Does your agent seat pricing include the supervisor role?",
    "Where do I download the GDPR data processing agreement for our records?",
    "Our bank details changed, how do I update the card on file?",
    "How do I set up an 'urgent' priority label for tickets?",
    "What's your policy if a customer files a chargeback on my store?",
    "How do I let my customers talk to a human agent in the chat widget?",
    "Our lawyer asked for a copy of your terms of service, where can I download it?",
    "Can I give a support agent on my team access to only the billing page?",
])
def test_calm_look_alikes_are_not_escalated(text: str) -> None:
    result = triage(text)
    assert result.escalation_reasons == []
    assert not result.urgent
