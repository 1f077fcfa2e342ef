"""What a customer message asks for, beyond its question: a person, to leave, the law, speed.

Patterns in English, German, French and Spanish (with a few Italian, Dutch and Portuguese
forms), written with their inflections (cancel/cancelling/cancelled, kündige/gekündigt,
résilier/résilie, cancelar/cancelo). Each returns the phrase that matched, so the card can
say why. Measured on the labelled set in ``tests/benchmarks/bench_safety.py``.
"""

from __future__ import annotations

import re


def _rx(alternatives: str) -> re.Pattern[str]:
    """A case-insensitive pattern from ``a|b|c`` alternatives, anchored at word starts."""
    return re.compile(r"(?i)(?<![\w-])(?:" + alternatives + r")(?![\w-])")


def first(pattern: re.Pattern[str], text: str) -> str | None:
    """The first phrase ``pattern`` finds in ``text``, stripped."""
    match = pattern.search(text)
    return " ".join(match.group(0).split()) if match else None


_PERSON = (
    r"(?:a |an |one |some |the )?(?:real |actual |live |human |proper )?"
    r"(?:human(?: being)?|person|people|someone|somebody|agent|representative|rep"
    r"|operator|manager|supervisor|member of (?:your|the) (?:team|staff))"
)
WANTS_HUMAN = _rx(
    # English
    rf"(?:talk|speak|chat|get through|be put through|connect me|transfer me|put me through)"
    rf"(?: (?:to|with))? {_PERSON}"
    rf"|(?:get|give|need|want|send)(?: me)? {_PERSON}(?: now| please| asap)?"
    r"|(?:not|no|stop sending me|tired of) (?:a |an |the |this |your )?"
    r"(?:bot|robot|machine|automated (?:answers?|repl(?:y|ies)|responses?))"
    r"|(?:are you|is this|am i (?:talking|chatting) (?:to|with)) (?:a |an )?(?:bot|robot|ai|human)"
    r"|(?:a|real|actual) human(?: being)?|escalate (?:this|it|my (?:case|ticket|issue))"
    r"|(?:could|can|would|please (?:have )?) ?(?:someone|somebody|you)(?: from [\w ]{1,20})? "
    r"(?:call|phone|ring) me|(?:call|phone|ring) me(?: back| please| asap)"
    r"|(?:want|need|prefer) (?:a |an |the )?(?:support |service |customer service )?"
    r"(?:agent|person|human|rep)|(?:don'?t|do not) want (?:the|a|your|this) (?:bot|robot|ai)"
    r"|(?:support|service) (?:agent|person|staff|team member)"
    r"|^\s*(?:human|agent|person|operator|representative)(?: please)?[\s.!]*$"
    # German
    r"|(?:mit )?(?:einem|einer) (?:echten |richtigen )?(?:menschen|person|mitarbeiter(?:in)?"
    r"|sachbearbeiter(?:in)?|berater(?:in)?) (?:sprechen|reden|verbunden)"
    r"|mit (?:einem|einer) (?:echten |richtigen )?(?:menschen|mitarbeiter(?:in)?|person)"
    r"|(?:einen|eine) (?:echten |echte )?(?:ansprechpartner(?:in)?|menschen|mitarbeiter(?:in)?)"
    r"|(?:rufen sie mich|ruft mich) (?:bitte )?(?:zurück|an)|kein(?:en)? (?:bot|roboter)"
    r"|(?:kann|könnte|würde) mich (?:bitte )?(?:jemand|einer|eine|ein mitarbeiter)"
    r"(?: \w+)? (?:an|zurück)rufen|persönlich(?:en|e)? (?:ansprechpartner(?:in)?|kontakt|beratung)"
    r"|(?:telefonisch|am telefon) (?:sprechen|besprechen|erreichen)"
    r"|(?:bin ich|ist das) (?:hier )?(?:mit )?(?:einem|ein) (?:bot|roboter)"
    # French
    r"|parler (?:à|a|avec) (?:un |une |quelqu'un|quelqu’un)(?:e )?(?:vrai(?:e)? )?"
    r"(?:humain|personne|conseill(?:er|ère)|agent|opérateur|responsable)?"
    r"|(?:une? )?vraie? (?:personne|humain)|pas (?:un|à un) (?:robot|bot)"
    r"|(?:rappelez|appelez)[- ]moi|(?:interlocuteur|conseiller) (?:humain|physique|réel)"
    r"|(?:quelqu'un|quelqu’un) (?:peut|pourrait) (?:m'appeler|me rappeler|me contacter)"
    # Spanish
    r"|hablar con (?:una |un |alguien)(?:a )?(?:persona|humano|agente|operador"
    r"|representante|encargado)?|persona real|agente humano"
    r"|p[aá]s(?:a|e)me con (?:alguien|una persona|un agente)|no (?:con )?un (?:bot|robot)"
    r"|ll[aá]m(?:e|a)nme|ll[aá]mame|(?:me )?(?:puede|podr[ií]a|pueden) llamar(?:me)?"
    r"|alguien de verdad|una persona de verdad|atenci[oó]n humana"
    # Italian, Dutch, Portuguese
    r"|parlare con (?:un|una) (?:operatore|persona|operatrice)"
    r"|(?:met|spreken met) een (?:medewerker|mens)|falar com (?:um|uma) (?:atendente|pessoa)"
)

CHURN = _rx(
    # English: leaving
    r"cancel(?:l?ing|l?ed|s|lation)? (?:my|our|the|this|your)? ?(?:account|subscription|plan"
    r"|contract|membership|service|everything)"
    r"|(?:close|closing|delete|deleting|terminate|terminating) (?:my|our) (?:account|contract"
    r"|subscription)"
    r"|(?:won't|will not|not going to|aren't|are not|don't|do not) (?:be )?renew(?:ing)?"
    r"|switch(?:ing|ed)? (?:over )?to (?:a |another |your )?"
    r"(?:competitor|provider|vendor|\w+ instead)"
    r"|(?:leaving|leave|move|moving) (?:you |for |to )(?:a |another )?"
    r"(?:competitor|provider|vendor|service)"
    r"|i'?m done with (?:you|this)|unsubscrib(?:e|ing) from (?:the|your) (?:service|plan)"
    r"|(?:will|i'?ll|gonna|going to|about to|ready to|want to|plan to) (?:just )?"
    r"(?:cancel|quit|leave)(?! (?:an?|the|this|that) (?:invitation|invite|order|meeting|export))"
    r"|(?:moving|switching|migrating|going) (?:over )?to (?:another|a different|a new|a competing)"
    r" (?:tool|app|service|provider|platform|solution|vendor|product)"
    # English: chargeback
    r"|charge ?backs?|disput(?:e|es|ed|ing) (?:the |this |a |that )?(?:charge|payment|transaction"
    r"|debit)|(?:reverse|reversing|reversed|block|stop) (?:the |this )?(?:payment|charge)"
    r"|(?:call(?:ed)?|contact(?:ed)?|tell|told|go(?:ing)? to|asked) (?:my|the)"
    r" (?:bank|credit card company|card issuer)|charg(?:e|ed|ing) it back"
    # German
    r"|(?:abo(?:nnement)?|vertrag|konto|account|mitgliedschaft|zugang)\W+(?:\w+\W+){0,3}"
    r"k[üu]ndig(?:e|en|t)|k[üu]ndig(?:e|en)\W+(?:\w+\W+){0,3}(?:abo(?:nnement)?|vertrag|konto"
    r"|account|mitgliedschaft|zugang)|k[üu]ndigung|gek[üu]ndigt|hiermit k[üu]ndige"
    r"|vertrag (?:beenden|auflösen)|widersproch(?:en)|widerspreche|abbuchung zur[üu]ck"
    r"|(?:zu|auf) (?:einem|einen) anderen anbieter|anbieter wechseln|wechseln zu"
    r"|r[üu]ckbuch(?:en|ung)|zur[üu]ckbuchen|lastschrift (?:zur[üu]ck|widerrufen|widersprechen)"
    # French
    r"|r[ée]sili(?:er|e|ons|ez|ation|é)|(?:annuler|annulez|annule) (?:mon|notre|l') ?"
    r"(?:abonnement|compte|contrat)|fait opposition|opposition (?:au|bancaire)"
    r"|r[ée]trofacturation|litige|remboursement (?:à|a|aupr[èe]s de) ma banque"
    r"|contest(?:er|e|é) (?:le |la |ce )?(?:pr[ée]l[èe]vement|paiement|d[ée]bit)"
    # Spanish
    r"|cancel(?:ar|o|é|en) (?:mi|nuestra|la) (?:suscripci[oó]n|cuenta|plan|contrato)"
    r"|dar(?:me|nos)? de baja|dar[ée] de baja|me doy de baja|contracargo"
    r"|cancel[ée] (?:la|mi) (?:suscripci[oó]n|cuenta)"
    r"|disputa (?:del|el|de) (?:cargo|pago)|reclam(?:ar|o|é) al banco"
    # Italian, Portuguese
    r"|disdire|disdetta|cancelar (?:minha|a) assinatura"
)

LEGAL = _rx(
    # English
    r"lawyers?|attorneys?|solicitors?|sue|sues|suing|sued|lawsuits?|legal (?:action|steps)"
    r"|legal counsel|counsel|legal advice|legal department will"
    r"|(?:small claims )?court|consumer protection|ombudsman|regulator|police|subpoena"
    r"|cease and desist|data protection authority|class action|litigation|legal proceedings"
    # German
    r"|(?:rechts)?anw[aä]lt(?:in|e|s)?|anwaltlich|verklag(?:e|en|t)|klage|gericht"
    r"|rechtliche schritte|verbraucherzentrale|verbraucherschutz|datenschutzbeh[öo]rde"
    # French
    r"|avocats?|poursuivre en justice|poursuites|proc[èe]s|tribunal|action en justice"
    r"|mise en demeure|porter plainte|plainte|la cnil|association de consommateurs"
    # Spanish
    r"|abogad[oa]s?|demandar|demandaremos|(?:los|le|la|les) (?:voy a )?demand(?:o|ar[ée])"
    r"|voy a demandar|tribunales?|acciones legales|denuncia(?:r)?|juzgado|la ocu"
    # Italian, Portuguese
    r"|avvocat[oi]|processar|justi[çc]a|advogad[oa]"
)
# "Legal" phrases that are questions about our paperwork, not threats.
NOT_LEGAL = _rx(r"(?:our|my) legal team|legal (?:department|team|entity|name|address|notice)"
                r"|law firm|lawyer-friendly|\bDPA\b")

URGENT = _rx(
    # English
    r"urgent(?:ly)?|asap|emergency|critical|outage|(?:is|are|went|goes|gone) down"
    r"|down for (?:all|everyone|every)|(?:all|every) (?:our |of our )?(?:users|customers|staff"
    r"|employees)|(?:whole|entire) (?:team|company|office|org(?:anisation|anization)?)"
    r"|(?:nobody|no one|no-one|everyone|everybody) (?:(?:in|on|at) [\w ]{1,20} )?(?:can(?:'t|not)?"
    r"|gets?|is)|(?:team|company|office) of \d+|(?:all )?\d+ (?:employees|users|people|staff"
    r"|colleagues|agents|seats)(?: are| can't| cannot)|locked out|(?:client|customer|investor)"
    r" (?:demo|meeting|presentation|launch)|go[- ]live|(?:site|website|app|server|service|api)"
    r" (?:is |went |has gone )?(?:down|offline|unreachable)"
    r"|production (?:is )?(?:down|broken|outage)|in (?:one|an|1|2|two|half an) hours?"
    r"|(?:by |before )?end of (?:the )?day|by tomorrow|deadline|board meeting"
    # German
    r"|dringend|eilt|notfall|(?:ist|sind) (?:seit [\w ]{1,20} )?(?:down|offline"
    r"|nicht erreichbar)|(?:total)?ausfall|niemand (?:in|aus|kann)|alle (?:nutzer|benutzer"
    r"|mitarbeiter|kunden)|sofort"
    # French
    r"|urgence|panne|toute l'[ée]quipe|tous (?:les|nos) (?:utilisateurs|clients)"
    r"|personne ne peut"
    # Spanish
    r"|urgente|ca[íi]d[oa]|todos (?:los|nuestros) (?:usuarios|clientes)|nadie puede"
    r"|ning[uú]n (?:usuario|cliente)|ya no pueden|ne peuvent plus"
)

# Strong words in several languages; each adds to the frustration score like English ones.
ANGER = _rx(
    # (English strong words already weigh in triage's own list; these are the others)
    r"disgraceful|shameful"
    r"|thanks for nothing|great service|wonderful service|(?:wow|oh),? (?:great|amazing|thanks)"
    r"|still broken|after (?:two|three|four|five|\d+) (?:e-?mails|messages|calls|tickets)"
    r"|i'?m done with (?:you|this)|useless|took you (?:\w+ )?(?:days|weeks|months)"
    r"|seit (?:tagen|wochen|monaten)|depuis des (?:jours|semaines|mois)"
    r"|llevo (?:d[íi]as|semanas|meses)"
    r"|frechheit|unversch[äa]mt|inakzeptabel|unzumutbar|katastrophe|skandal(?:[öo]s)?"
    r"|die nase voll|reicht mir|sauerei|zumutung"
    r"|inadmissible|inacceptable|scandaleux|honteux|lamentable|j'en ai marre|ras le bol"
    r"|service nul|c'est nul|honte"
    r"|estoy hart[oa]|inaceptable|vergüenza|verguenza|indignante|una estafa|una broma"
    r"|p[ée]sim[oa]|harto|inaccettabile|vergogna|schandalig|belachelijk"
)

# An acknowledgement that closes a conversation: only thanks and "it works", nothing asked.
_THANKS = (
    r"thanks?(?: you)?(?: so much| very much| a lot| again| a million)?|thx|ty|tysm|cheers"
    r"|(?:much )?appreciated|many thanks|perfect|great|brilliant|awesome|excellent|super|cool"
    r"|ok(?:ay)?|got it|all (?:sorted|good|set)(?: now)?|(?:problem |issue )?(?:solved|sorted"
    r"|fixed|resolved)(?: now)?|that (?:worked|fixed it|did it|did the trick)"
    r"|(?:it )?works(?: now)?"
    r"|have a (?:nice|great|good) (?:day|weekend)|you'?re (?:the best|a star)|yep|yes|yay"
    r"|appreciate (?:it|that|the help)|thanks heaps|that did it|all good now|sorted now"
    r"|danke(?: sch[öo]n| sehr| euch| dir| ihnen)?|vielen dank|besten dank|hat (?:geklappt"
    r"|funktioniert)|passt"
    r"|(?:jetzt |es )?funktioniert(?: es)?(?: jetzt)?|alles klar|perfekt"
    r"|merci(?: beaucoup| bien)?|parfait|(?:[çc]a|cela) (?:marche|fonctionne)|c'est (?:bon|réglé)"
    r"|(?:c'est )?r[ée]gl[ée]|pour votre aide|génial"
    r"|(?:muchas |mil )?gracias|perfecto|(?:ya )?funciona|listo|solucionado|genial"
    r"|todo (?:bien|correcto|ok)(?: ahora)?"
    r"|grazie(?: mille)?|(?:ora )?funziona|bedankt|het werkt(?: weer)?|obrigad[oa]|deu certo"
    r"|tack|dziękuję|dzięki|teşekkürler|děkuji|👍|🙏|🙂|😊|!"
)
_THANKS_ONLY = re.compile(
    r"(?i)^[\s¡]*(?:(?:hi|hello|hey|hallo|bonjour|hola)\b[\s,!.]*)?(?:(?:" + _THANKS
    + r")(?!\w)[\s,.!¡:;)\-–]*(?:and|und|et|y|,|for (?:the|your) help|for your (?:reply|answer)"
    r"|(?:for|to) you)?[\s,.!¡:;)\-–]*)+$"
)
_THANKS_WORD = re.compile(
    r"(?i)(?<!\w)(?:thanks?|thx|cheers|got it|appreciate it|perfect|perfekt|parfait|perfecto"
    r"|appreciated"
    r"|danke|merci|gracias|grazie|bedankt|obrigad[oa]"
    r"|tack|dziękuję|teşekkürler|děkuji|geklappt|funktioniert|works|worked|ça marche"
    r"|funciona|funziona|werkt|solved|sorted|fixed|réglé|solucionado|👍|🙏)(?!\w)"
)
_SIGN_OFF = re.compile(
    r"(?im)^\s*(?:best(?: regards)?|regards|kind regards|cheers|thanks|viele grüße|"
    r"mit freundlichen grüßen|lg|vg|cordialement|bien à vous|saludos|un saludo|atentamente)"
    r"[,.!]*\s*(?:\n.*)?$"
)


def acknowledgement(text: str) -> str | None:
    """The message is only thanks / "it works" (no question, no new problem): its phrase."""
    body = " ".join(text.split())
    if "?" in body or len(body) > 160:
        return None
    if _THANKS_WORD.search(body) is None:
        return None
    stripped = _SIGN_OFF.sub("", text).strip() or body
    candidate = " ".join(stripped.split())
    if _THANKS_ONLY.match(candidate) or _THANKS_ONLY.match(body):
        return first(_THANKS_WORD, body)
    return None
