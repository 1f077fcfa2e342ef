"""What a customer message asks for, beyond its question: a person, to leave, the law, speed.

Patterns in English, German, French and Spanish with their inflections (cancel/cancelling/
cancelled, kündige/gekündigt, résilier/résilie, cancelar/cancelo), and the common forms in
Italian, Portuguese, Dutch, Polish, Swedish, Danish, Turkish, Czech, Russian, Finnish and
Japanese, written as stems (rezygnuj-, avukat-, człowiek-) so that case endings and
conjugations match. A phrase under a negation in its own clause ("I'm not cancelling",
"ich kündige nicht", "je ne résilie pas") does not count. Each intent returns the phrases
that matched, so the card can say why. Measured on the labelled sets in
``tests/benchmarks/bench_safety.py``.
"""

from __future__ import annotations

import re


def _rx(alternatives: str, unspaced: str = "") -> re.Pattern[str]:
    """A case-insensitive pattern from ``a|b|c`` alternatives, anchored at word starts.

    ``unspaced`` holds alternatives for scripts written without spaces (Japanese), which
    match anywhere.
    """
    spaced = r"(?<![\w-])(?:" + alternatives + r")(?![\w-])"
    return re.compile(r"(?i)" + spaced + (f"|(?:{unspaced})" if unspaced else ""))


def first(pattern: re.Pattern[str], text: str) -> str | None:
    """The first phrase ``pattern`` finds in ``text``, stripped."""
    match = pattern.search(text)
    return " ".join(match.group(0).split()) if match else None


# A negation among the last few words of the same clause: "I'm not cancelling", "we do not
# want to cancel", "je ne résilie pas", "no voy a cancelar". "Can't"/"cannot" are not
# negations of the wish ("I can't cancel my plan" still wants to leave).
_NEGATION = re.compile(
    r"(?i)(?:^|\s)(?:not|never|no longer|don'?t|doesn'?t|didn'?t|won'?t|isn'?t|aren'?t"
    r"|wasn'?t|nicht|nie(?:mals)?|kein(?:e|en)?|ne|n'|no|non|niet|geen|inte|ikke|ej|nem"
    r"|nepl[aá]nuji|не|ei)(?:\s+\S+){0,3}\s*$"
)
_CLAUSE_END = re.compile(r"[.,;:!?\n()]")
_NEGATED_AFTER = re.compile(r"(?i)^\s*(?:\w+\s+){0,2}?(?:nicht|pas|not)\b")


def affirmed(pattern: re.Pattern[str], text: str) -> list[str]:
    """Distinct phrases ``pattern`` finds in ``text`` that no negation in their clause denies."""
    found: dict[str, None] = {}
    for match in pattern.finditer(text):
        before = _CLAUSE_END.split(text[: match.start()])[-1]
        after = _CLAUSE_END.split(text[match.end():])[0]
        if _NEGATION.search(before) or _NEGATED_AFTER.match(after):
            continue
        found[" ".join(match.group(0).split()).lower()] = None
    return list(found)


_PERSON = (
    r"(?:a |an |one |some |the )?(?:real |actual |live |human |proper )?"
    r"(?:human(?: being)?|person|people|someone|somebody|agent|representative|rep"
    r"|operator|manager|supervisor|member of (?:your|the) (?:team|staff))"
)
WANTS_HUMAN = _rx(
    # English
    rf"(?:talk|speak|chat|get through|be put through|connect me|transfer me|put me through)"
    rf"(?: (?:to|with))? {_PERSON}"
    rf"|(?:(?:get|need|want|send)(?: me)?|give me) {_PERSON}(?: now| please| asap)?"
    r"(?! (?:licen[cs]es?|seats?|roles?|accounts?|access|permissions?|(?:on|in|to|for) (?:my|our)))"
    r"|(?:not|no|stop sending me|tired of) (?:a |an |the |this |your )?"
    r"(?:bot|robot|machine|automated (?:answers?|repl(?:y|ies)|responses?))"
    r"|(?:are you|is this|am i (?:talking|chatting) (?:to|with)) (?:a |an )?(?:bot|robot|ai|human)"
    r"|(?:real|actual|live) (?:human(?: being)?|person|agent)"
    r"|(?:a|one) human(?: being)?(?=\s*(?:please|pls|now|asap)?\s*(?:[.!]|$))"
    r"|escalate (?:this|it|my (?:case|ticket|issue))|(?:speak|talk) to (?:your |a )?(?:boss"
    r"|manager)"
    r"|(?:could|can|would|please (?:have )?) ?(?:someone|somebody|you)(?: from [\w ]{1,20})? "
    r"(?:call|phone|ring) me|(?:call|phone|ring) me(?: back| please| asap)"
    r"|(?:someone|somebody|(?:an?|your|the) (?:\w+ )?(?:representative|agent|person|human"
    r"|manager))(?: from [\w ]{1,20})? (?:could |can |please |to )?(?:get in touch|contact me"
    r"|reach out to me|call me)"
    r"|(?:want|need|prefer) (?:a |an |the )?(?:support |service |customer service )?"
    r"(?:agent|person|human|rep)(?! (?:licen[cs]es?|seats?|roles?|accounts?|access|permissions?))"
    r"|(?:don'?t|do not) want (?:the|a|your|this) (?:bot|robot|ai)"
    r"|(?:support|service) (?:agent|person|staff|team member)(?! on my| on our| in my| in our"
    r"| access| roles?| seats?| licen| accounts?)"
    r"|^\s*(?:human|agent|person|operator|representative)(?: please)?[\s.!]*$"
    # German
    r"|(?:mit )?(?:einem|einer) (?:echten |richtigen )?(?:menschen|person|mitarbeiter(?:in)?"
    r"|sachbearbeiter(?:in)?|berater(?:in)?) (?:sprechen|reden|verbunden)"
    r"|mit (?:einem|einer) (?:echten |richtigen )?(?:menschen|mitarbeiter(?:in)?|person)"
    r"|(?:möchte|will|hätte gerne?|brauche|bitte um) (?:\w+ ){0,2}(?:einen|eine) (?:echten "
    r"|echte )?"
    r"(?:ansprechpartner(?:in)?|menschen|mitarbeiter(?:in)?)(?! als)"
    r"|(?:einen|eine) (?:echten |echte )?(?:ansprechpartner(?:in)?|menschen|mitarbeiter(?:in)?)"
    r" (?:sprechen|erreichen|ans telefon)"
    r"|(?:rufen sie mich|ruft mich) (?:bitte )?(?:zurück|an)|kein(?:en)? (?:bot|roboter)"
    r"|mich (?:bitte )?(?:\w+ )?(?:zurück|an)rufen|r[üu]ckruf"
    r"|persönlich(?:en|e)? (?:ansprechpartner(?:in)?|kontakt|beratung)"
    r"|(?:telefonisch|am telefon) (?:sprechen|besprechen|erreichen)"
    r"|(?:bin ich|ist das) (?:hier )?(?:mit )?(?:einem|ein) (?:bot|roboter)"
    # French
    r"|parler (?:à|a|avec) (?:un |une |quelqu'un|quelqu’un)(?:e )?(?:vrai(?:e)? )?"
    r"(?:humain|personne|conseill(?:er|ère)|agent|opérateur|responsable)?"
    r"|(?:une? )?vraie? (?:personne|humain)|pas (?:un|à un) (?:robot|bot)"
    r"|(?:avoir|joindre|contacter) (?:un|une) (?:humain|conseill(?:er|ère)|agent|opérat(?:eur|rice)"
    r"|personne)|(?:rappelez|appelez)[- ]moi|(?:interlocuteur|conseiller) (?:humain|physique|réel)"
    r"|(?:quelqu'un|quelqu’un) (?:peut|pourrait) (?:m'appeler|me rappeler|me contacter)"
    r"|(?:me|nous) rappeler(?=\s*(?:[?.!]|$|au |demain|svp|s'il|d[èe]s|rapidement|aujourd))"
    # Spanish
    r"|hablar con (?:una |un |alguien)(?:a )?(?:persona|humano|agente|operador"
    r"|representante|encargado)?|persona real|agente humano"
    r"|p[aá]s(?:a|e)me con (?:alguien|una persona|un agente)|no (?:con )?un (?:bot|robot)"
    r"|ll[aá]m(?:e|a)nme|ll[aá]mame|(?:me )?(?:puede|podr[ií]a|pueden) llamar(?:me)?"
    r"|alguien de verdad|una persona de verdad|atenci[oó]n humana"
    # Italian, Portuguese, Dutch
    r"|parlare con (?:un|una|qualcuno)(?: \w+)? ?(?:operatore|persona|operatrice|umano)?"
    r"|falar com (?:um|uma|algu[eé]m)(?: \w+)? ?(?:atendente|pessoa|humano)?"
    r"|(?:atendente|operador) humano|(?:een )?(?:medewerker|mens|persoon) (?:te )?spreken"
    r"|spreken met een|iemand (?:aan de telefoon|spreken)|(?:bel|belt) (?:me|mij) (?:terug|op)"
    r"|terugbellen|(?:met|spreken met) een (?:medewerker|mens)"
    # Polish, Swedish, Danish
    r"|(?:(?:po)?rozmawia|kontakt|połącz)\w* z (?:\w+ )?(?:człowiek\w*|konsultant\w*|pracownik\w*"
    r"|osob\w*)"
    r"|(?:żywy\w*|prawdziw\w*) (?:człowiek\w*|konsultant\w*)|połącz\w* z konsultant\w*"
    r"|(?:prata|tala|tale|snakke) med (?:en |et )?(?:\w+ )?(?:människa|person|handläggare"
    r"|medarbetare|menneske|medarbejder|någon|nogen)|riktig människa|rigtigt menneske"
    # Turkish, Czech, Russian, Finnish
    r"|insan\w* (?:ile )?(?:konuş|görüş)\w*|(?:müşteri )?temsilci\w*|gerçek (?:bir )?(?:insan"
    r"|kişi)\w*"
    r"|(?:mluvit|hovořit|promluvit) s (?:\w+ )?(?:člověk\w*|operátor\w*|pracovník\w*|osob\w*)"
    r"|živ\w* člověk\w*|(?:поговорить|говорить|связаться|соедините(?: меня)?) с (?:\w+ )?"
    r"(?:человек\w*|оператор\w*|сотрудник\w*|менеджер\w*)|жив\w+ человек\w*"
    r"|(?:puhua|jutella) (?:\w+ )?(?:ihmisen|asiakaspalvelijan|henkilön) kanssa"
    # Being put through, a phone call, "is anyone there?"
    r"|(?:transfer|connect|forward|redirect|put) (?:me|us) (?:through )?(?:to|with) (?:\w+ ){0,2}"
    r"(?:service|support|team|department|person|someone|human|agent|manager|staff)"
    r"|(?:prefer|rather have|like|want|need|request|schedule|book) (?:a |to have a )?"
    r"(?:phone|video|zoom|teams) ?(?:call|conversation|meeting)"
    r"|(?:who|what number) (?:can|could|should|do) (?:i|we) call"
    r"|(?:can|could) (?:i|we) call (?:you|someone|somebody|support)"
    r"|(?:is (?:there )?)?(?:anyone|anybody|a human|a person|someone|somebody) (?:there|out there"
    r"|reading this)|alguien humano|(?:hay )?(?:alguien|una persona|un humano) (?:ah[ií]|real)"
    r"|chiamatemi|richiamatemi|richiamarmi|mi (?:può|potete|puoi) (?:ri)?chiamare|me liga"
    r"|ligue-me|me ligar|ligar para mim|zadzwo\w* do mnie|ring(?:a)? mig|ringe? til mig"
    r"|beni ara\w*|arayabilir misiniz|zavolejte (?:mi|nám)|(?:mi|nám) (?:\w+ )?zavolat"
    r"|перезвоните|позвоните мне|soittakaa minulle|soittaa minulle"
    r"|(?:jemanden|einen menschen|eine person) (?:\w+ )?(?:erreiche|erreichen|sprechen)"
    r"|yetkili (?:biri|kişi)\w*|biriyle (?:görüş|konuş)\w*"
    # A department, a role, a call: "speak with your billing department", "get an engineer on
    # the phone", "can someone get on a call with us", "someone with a pulse"
    r"|(?:speak|talk)(?: directly)? (?:to|with) (?:someone (?:in|from|at) )?(?:your|the)"
    r" (?:\w+ )?(?:department|team|desk|office)"
    r"|(?:get|put|have) (?:an?|one of your|your|someone|somebody|a \w+) (?:\w+ )?(?:on the "
    r"(?:phone|line)|on a call)|(?:get|hop|jump) on a (?:quick )?(?:call|phone call|zoom"
    r"|video call) with (?:me|us)"
    r"|(?:someone|somebody|anyone|anybody|a person|a human) with a pulse|a (?:living|breathing)"
    r" (?:person|human|soul|being)|flesh and blood"
    r"|iemand van (?:de |het |jullie )?\w+ (?:spreken|bellen|aan de lijn)"
    r"|(?:liefst|graag|bij voorkeur) telefonisch"
    r"|(?:discuss|go over|go through|talk through) (?:this |it |that |the matter )?with (?:one of"
    r" your|a member of (?:your|the)|someone (?:from|on|at)|your) (?:\w+ )?(?:staff|team|colleagues"
    r"|people|support|agents|employees)|living,? (?:and )?breathing"
    r"|(?:right|correct|best) person to (?:talk|speak) to|direct (?:line|phone number)"
    r"|(?:an?|your|the) (?:\w+ )?(?:manager|agent|representative|specialist|person|human)"
    r" (?:to |could |can |should )?(?:call|contact|reach|phone|ring|get in touch with) (?:me|us)"
    r"|(?:get|need|want|find) (?:me |us )?(?:someone|somebody|a person) who (?:understands|knows"
    r"|can (?:actually |really )?help)|mich (?:\w+ ){2,4}(?:zurück|an)rufen"
    r"|(?:reply|response|answer) from (?:a|an actual|a real|a live) (?:person|human)"
    r"|who (?:can|could|should) (?:i|we) (?:\w+ )?(?:speak|talk|chat) (?:to|with)"
    r"|(?:mettre|mettez)(?:-moi| moi)? en (?:relation|contact) avec"
    r"|reach (?:a|an|someone|somebody|one of your) (?:real |actual )?(?:person|human|member of"
    r" (?:staff|your team)|agent|staff member|representative)|(?:whoever|someone|somebody"
    r"|the person) (?:who )?(?:is )?in charge|promised (?:me |us )?a (?:call|callback|phone call)"
    r"|(?:a |an actual |a real )?human voice|real voice"
    r"|(?:real|proper|actual) conversation with (?:someone|somebody|a person|a human|your team)"
    r"|(?:support |service )?(?:rep|agent|person|human|someone|somebody) (?:to )?(?:jump|step"
    r"|chime) in"
    r"|(?:rozmawia|porozmawia)\w* z kim[śs]|(?:que |por )um humano|uma pessoa (?:real|de verdade)"
    r"|(?:jullie|u|iemand) (?:mij|me) (?:\w+ )?(?:bellen|terugbellen)"
    r"|(?:an|zu) (?:einen|einem|eine|einer) (?:\w+ )?(?:mitarbeiter\w*|menschen|kolleg\w*"
    r"|ansprechpartner\w*|sachbearbeiter\w*)(?! (?:hinzu|an|anlegen|zuweisen))"
    r"|(?:a|the) call-?back(?! (?:number|url|function|endpoint|handler|api|feature|option|widget))"
    r"|(?:expert|specialist|engineer|person|someone|somebody|human|colleague) (?:from|on) your"
    r" (?:side|end)"
    r"|atend(?:er|a|erme) (?:una persona|alguien|un agente|un humano)"
    r"|mit (?:jemandem|ihnen|euch|einem|einer) (?:\w+ ){0,4}(?:telefonieren|sprechen|reden)"
    r"|(?:have|get) (?:your|the) (?:\w+ )?(?:folks|people|team|staff|department|guys|agents)"
    r" (?:to )?(?:reach out|call|contact|get in touch|phone|ring)"
    r"|(?:somebody|someone|a person) (?:competent|qualified|knowledgeable|senior|technical)"
    r"|send (?:a|an|someone|somebody) (?:real |actual )?(?:\w+ )?(?:engineer|person|human|agent"
    r"|specialist|technician) (?:my|our) way"
    r"|(?:can|could|shall) we (?:hop|jump|get) on a (?:quick |short )?(?:\w+ )?(?:call|phone call"
    r"|zoom|video call|meeting)"
    r"|(?<!\w)(?:human|person|agent|operator|representative)s?,? (?:please|pls)\b"
    r"|(?:give|drop) (?:me|us) a (?:call|ring|buzz|phone call)"
    r"|(?:raise|take|discuss) (?:this|it) (?:up )?with (?:a|your|the) (?:supervisor|manager"
    r"|team lead|superior|person)"
    r"|(?:with|from) (?:one of your|a member of your) (?:people|staff|team|colleagues|engineers"
    r"|agents|experts|specialists)|(?:anyone|anybody) (?:\w+ )?reading (?:this|these|my)"
    r"|(?:contattat|richiamat)\w* da (?:un|una) (?:\w+ )?(?:operat\w*|persona|consulente)"
    r"|alguien (?:de \w+ )?me (?:contact|llam)\w*"
    r"|(?:a|any|an actual|a real|a live) (?:human|person|agent|rep) (?:that |who )?(?:i|we) (?:can"
    r"|could) (?:talk|speak|chat)"
    r"|(?:anybody|anyone|someone|somebody)\b[^.?!\n]{0,30}\b(?:i|we) (?:could|can|might)"
    r" (?:\w+ )?(?:discuss|talk|speak|go over|walk through)"
    r"|(?:pass|hand|forward|escalate) (?:this|it|me) (?:on |over )?to (?:a|an|your|someone"
    r"|somebody) (?:\w+ )?(?:colleague|supervisor|manager|person|human|team member|superior)"
    r"|(?:book|schedule|arrange|set up|have) (?:a |an )?(?:short |quick |brief |\d+[- ]min\w* )?"
    r"(?:call|meeting|chat) with (?:you|your|someone|somebody|an? |one)"
    r"|(?:real|actual|live|proper) (?:support |service |customer service )(?:human|person|agent"
    r"|rep)|mit (?:jemandem|ihnen|euch|einem menschen) (?:\w+ ){0,3}(?:telefonieren|sprechen"
    r"|reden)",
    # Japanese
    r"担当者(?:と|に|の方)|オペレーター|人間と|有人|人と話|電話で(?:話|相談)"
    r"|電話(?:で|を)?(?:対応|連絡|ください|お願い|してもらえ)|折り返し",
)

CHURN = _rx(
    # English: leaving
    r"(?:^\s*|please )cancel (?:account|subscription|plan|contract|membership)"
    r"|cancel(?:l?ing|l?ed|s|lation)? (?:my|our|the|this|your) (?:\w+ )?(?:account|subscription"
    r"|plan|contract|membership|service|everything)(?! (?:of|for) )"
    r"|(?:close|closing|delete|deleting|terminate|terminating) (?:my|our|the) (?:account|contract"
    r"|subscription)(?! (?:of|for) )|(?:terminate|end) (?:my|our) (?:subscription|contract)"
    r"|(?:won't|will not|not going to|aren't|are not|don't|do not|not to|no longer) (?:be )?"
    r"renew(?:ing)?|(?:my|our|this is (?:my|our)) (?:cancellation|notice of termination)"
    r"|stop (?:my|our|the) (?:\w+ )?(?:subscription|plan|contract|membership) from renewing"
    r"|(?:stop|turn off|switch off|disable|cancel) (?:the |my |our )?auto-?renew\w*"
    r"|switch(?:ing|ed)? (?:over )?to (?:a |another |your )?"
    r"(?:competitor|provider|vendor|\w+ instead)"
    r"|(?:leaving|leave|move|moving) (?:you |for |to )(?:a |another )?"
    r"(?:competitor|provider|vendor|service)"
    r"|i'?m done with (?:you|this)|unsubscrib(?:e|ing)(?: me| us)? from (?:the|your|my|our)"
    r" (?:\w+ )?(?:service|plan|subscription)"
    r"|(?:will|i'?ll|gonna|going to|about to|ready to|want to|plan to) (?:just )?"
    r"(?:cancel|quit|leave)(?! (?:an?|the|this|that) (?:invitation|invite|order|meeting|export))"
    r"|(?:moving|switching|migrating|going) (?:over )?to (?:another|a different|a new|a competing)"
    r" (?:tool|app|service|provider|platform|solution|vendor|product)"
    # English: chargeback and payment disputes
    r"|charge ?backs?(?! (?:notifications?|alerts?|fees?|rates?|reports?|handling|process|rules?"
    r"|api|webhooks?))|disput(?:e|es|ed|ing) (?:the |this |a |that |my )?(?:\w+ )?(?:charge|payment"
    r"|transaction|debit|invoice|bill)|(?:open|opened|opening|file|filed|filing|raise|raised"
    r"|raising|start\w*) a (?:dispute"
    r"|chargeback)|(?:reverse|reversing|reversed|block|stop) (?:the |this )?(?:payment|charge)"
    r"|(?:call(?:ed)?|contact(?:ed)?|tell|told|go(?:ing)? to|asked) (?:my|the)"
    r" (?:bank|credit card company|card issuer)|charg(?:e|ed|ing) it back"
    # German
    r"|(?:abo(?:nnement)?|vertrag|konto|account|mitgliedschaft|zugang)\W+(?:\w+\W+){0,3}"
    r"k[üu]ndig(?:e|en|t)|k[üu]ndig(?:e|en)\W+(?:\w+\W+){0,3}(?:abo(?:nnement)?|vertrag|konto"
    r"|account|mitgliedschaft|zugang)|k[üu]ndigung|gek[üu]ndigt|hiermit k[üu]ndige"
    r"|(?:konto|account|zugang|profil)\W+(?:\w+\W+){0,3}l[öo]sch(?:en|t|e)"
    r"|l[öo]sch(?:en|t|e)\W+(?:\w+\W+){0,2}(?:mein|unser)(?:en)? (?:konto|account|zugang)"
    r"|vertrag (?:beenden|auflösen)|widersproch(?:en)|widerspreche|abbuchung zur[üu]ck"
    r"|(?:zu|auf) (?:einem|einen) anderen anbieter|anbieter wechseln|wechseln zu"
    r"|r[üu]ckbuch(?:en|ung)|zur[üu]ckbuch\w*|lastschrift (?:zur[üu]ck|widerrufen|widersprechen)"
    # French
    r"|r[ée]sili(?:er|e|ons|ez|ation|é)|(?:annuler|annulez|annule) (?:mon|notre|l') ?"
    r"(?:abonnement|compte|contrat)|(?:supprim|ferm|cl[ôo]tur)\w* (?:mon|notre) compte"
    r"|fait opposition|opposition (?:au|bancaire)"
    r"|r[ée]trofacturation|litige|remboursement (?:à|a|aupr[èe]s de) ma banque"
    r"|contest(?:er|e|é) (?:le |la |ce )?(?:pr[ée]l[èe]vement|paiement|d[ée]bit)"
    # Spanish
    r"|cancel(?:ar|o|é|en) (?:mi|nuestra|la) (?:suscripci[oó]n|cuenta|plan|contrato)"
    r"|(?:borrar|eliminar|cerrar|borren|eliminen|cierren) (?:mi|nuestra) cuenta"
    r"|dar(?:me|nos)? de baja|dar[ée] de baja|me doy de baja|contracargo"
    r"|cancel[ée] (?:la|mi) (?:suscripci[oó]n|cuenta)|(?:una|la) disputa (?:con|del|el|de|en|por)"
    r"|disputa (?:del|el|de) (?:cargo|pago)|reclam(?:ar|o|é) al banco"
    # Italian, Portuguese
    r"|disdire|disdetta|disdico|(?:annullare|cancellare|chiudere) (?:il mio |l')(?:abbonamento"
    r"|account)|contest\w*\s+(?:l'|il |lo |la |le |a |o )?(?:addebito|pagamento|transazione"
    r"|cobran[çc]a|compra)|cancelar (?:minha|a|o meu) (?:assinatura|conta)"
    r"|(?:encerrar|excluir) (?:minha|a) conta|estorn\w*"
    # Dutch, Polish, Swedish, Danish
    r"|zeg\w* (?:mijn|ons|het) (?:abonnement|account|contract) op|opzeg\w*|terugboek\w*"
    r"|(?:rezygnuj|rezygnacj)\w*|anul\w* (?:\w+ )?(?:subskrypcj\w*|abonament\w*|kont\w*)"
    r"|usu\w* (?:moje |nasze )?konto|zwrot\w* obciążeni\w*"
    r"|säg\w* upp|uppsägning|avsluta (?:mitt|vårt) (?:konto|abonnemang|avtal)"
    r"|opsig\w*|(?:slet|luk) (?:min|mit|vores) (?:konto|abonnement)"
    # Turkish, Czech, Russian, Finnish
    r"|(?:abone|üyel|hesab|hesap|sözleşme)\w* (?:\w+ )?iptal|hesab\w* sil\w*"
    r"|(?:zruš|ruš)\w* (?:\w+ )?(?:předplatn\w*|účet|smlouv\w*|členství)"
    r"|(?:předplatn\w*|účet|smlouv\w*) (?:\w+ )?(?:zruš|ruš)\w*|výpověď"
    r"|(?:отмен|отказ)\w* (?:от )?(?:\w+ )?подписк\w*|(?:удал|закр)\w* (?:мой |наш )?аккаунт\w*"
    r"|расторг\w*|чарджбэк\w*|оспор\w* (?:\w+ )?(?:платеж|списани)\w*"
    r"|irtisano\w*|(?:peru|lopet)\w* (?:\w+ )?tilau\w*"
    # Looking elsewhere; a payment reported to the bank; "wir kündigen"
    r"|(?:look|looking|search\w*|shop\w*) (?:for|around for) (?:another|a different"
    r"|an alternative|a cheaper|other) (?:\w+ )?(?:provider|vendor|tool|service|solution"
    r"|supplier|app|platform|option)s?|alternatives? to (?:you|your (?:service|product|tool))"
    r"|(?:report\w*|flag\w*|mark\w*) (?:the |this |that |your )?(?:payment|charge|transaction)s?"
    r" as (?:fraud|fraudulent|unauthori[sz]ed)|unauthori[sz]ed (?:charge|payment|transaction)s?"
    r"|k[üu]ndigen (?:wir|ich)|(?:wir|ich) k[üu]ndigen"
    r"|(?:passer|partir|aller) (?:chez|vers) (?:un |une )?(?:concurrent|autre (?:fournisseur"
    r"|prestataire|solution|outil))|stoppen met (?:jullie|uw|de|het) (?:\w+ )?(?:dienst|abonnement"
    r"|service|product)|overstappen naar|hesab\w* (?:\w+ )?(?:kapat|sil|iptal)\w*"
    r"|(?:to|with|for) (?:another|a different) (?:provider|vendor|supplier|company|service)"
    r"|(?:byter|byta|bytt) (?:till|leverantör)|annan leverantör|anden (?:udbyder|leverandør)"
    r"|andere (?:aanbieder|leverancier)|usu[nń]\w* (?:\w+ )?kont\w*|usunięci\w* (?:\w+ )?kont\w*"
    # Cancelling without an object, a decision to leave, an account wanted closed, a named
    # competitor, the bank told to take the money back
    r"|(?:i'?m|i am|we'?re|we are) (?:(?!not |never |also )\w+ )?"
    r"cancell?ing(?! (?:an?|the|this|that|my|our) (?:\w+ )?"
    r"(?:invitations?|invites?|orders?|meetings?|exports?|calls?|appointments?|bookings?))"
    r"|cancell?ing (?:it |everything |all )?(?:today|now|immediately|right away|right now"
    r"|the (?:second|moment|minute|day))"
    r"|(?:decided|decision|going|plan\w*) to (?:cancel|leave|quit|terminate|not renew)"
    r"(?! (?:an?|the|this|that|my|our) (?:\w+ )?(?:invitations?|invites?|orders?|meetings?"
    r"|exports?|calls?|appointments?|bookings?))"
    r"|(?:want|need|get|have) (?:my|our) (?:account|subscription|contract|membership)s? "
    r"(?:closed|cancell?ed|deleted|terminated|ended)"
    r"|(?:we'?re|we are|we'?ll be|we will be|i'?m|i am|we'?ve|we have|going to|decided to)"
    r" (?:be )?(?:switch|switching|switched|migrating|migrate) (?:over )?to (?-i:[A-Z][a-z]+)"
    r"(?! (?:plan|billing|tier|edition|version|pricing))"
    r"|(?:tell|telling|ask|asking|instruct\w*|get|getting) my (?:bank|card issuer|credit card"
    r" company) to|my (?:bank|card issuer|credit card company) will (?:hear|know|get)"
    r"|(?:take|taking|took|bring|report\w*) (?:this|it|the charge|the payment) (?:up )?"
    r"(?:with|to) my (?:bank|card issuer|credit card company)"
    r"|reclam\w* (?:\w+ ){0,3}(?:al|a mi|con mi|en mi) banco|(?:aupr[èe]s de|à|a) ma banque"
    r"|(?:meiner|die) bank (?:\w+ ){0,2}(?:zurückbuchen|zurückholen|stornieren)"
    r"|found (?:a|an) (?:cheaper|better|different|new)\w* (?:\w+ )?(?:tool|provider|vendor|app"
    r"|service|solution|alternative|option)|(?:won'?t|will not|aren'?t|are not|not) (?:be )?"
    r"continu(?:e|ing)(?: (?:with|using) (?:you|your|the (?:service|subscription|plan|contract)))?"
    r"(?=\s*(?:[.,;!]|$| with| using| after| beyond| past))"
    r"|(?:claw|pull)\w* (?:back )?(?:the |my |our |these |those |both |all )?(?:\w+ ){0,2}"
    r"(?:money|payments?|charges?|funds)(?: back)?|have my (?:bank|card company|card issuer)"
    r"|(?:shut|wind) (?:down )?(?:my|our|the) (?:account|workspace|subscription)s?"
    r"|stop (?:my|our|the) (?:\w+ )?(?:subscription|membership|contract)(?! from)"
    r"|delete (?:my|our) (?:\w+ )?(?:workspace|organi[sz]ation|company account)"
    r"|(?:decided|decision|plan\w*|going) not to (?:continue|renew|extend|stay)"
    r"|pull(?:ing|ed)? the plug|close (?:it|this|everything) down"
    r"|mettre fin (?:à|a) (?:mon|notre|l'|ce|cet) ?(?:abonnement|contrat|compte)"
    r"|zamkn\w* (?:\w+ )?kont\w*|zamknięci\w* kont\w*"
    r"|(?:told you|said|informed you|let you know) (?:that )?(?:we|i) (?:were|was|are|am|'re|'m)"
    r" leaving|(?:claim|case|complaint|dispute) (?:with|at) my (?:bank|card issuer|card company"
    r"|credit card company)|(?:formal |our |my )termination|termination of (?:the|our|my) (?:\w+ )?"
    r"(?:service|agreement|contract|subscription|account)|(?:our|the|my) renewal is (?:off"
    r"|cancell?ed)|cancel (?:the|our|my) renewal|(?:ask|asking|asked|tell|telling|told|get"
    r"|getting) (?:visa|mastercard|amex|american express|paypal|klarna|discover) to"
    r"|cancel everything|stop charging (?:me|us|my|our)"
    r"|end (?:my|our) (?:\w+ )?(?:partnership|relationship|collaboration|cooperation) with you"
    r"|remove (?:us|me) from your (?:system|platform|service|books|records)"
    r"|(?:banca|carta) (?:\w+ ){0,2}(?:bloccato|stornato|contestato|annullato) (?:l'|il |la )?"
    r"(?:addebito|pagamento)|no (?:seguir|continuar) con (?:ustedes|vosotros|su servicio)"
    r"|mudar (?:para|de) (?:outro|outra) (?:\w+ )?(?:fornecedor|plataforma|empresa|servi[çc]o"
    r"|operadora)|(?:abonnement|contract|account|lidmaatschap) (?:\w+ ){0,3}(?:be[ëe]indigen"
    r"|stopzetten|opheffen)|keine (?:weiteren )?(?:abbuchungen|lastschriften)"
    r"|(?:wir|ich) hören (?:\w+ )?auf|(?:i'?m|we'?re) out (?:after|at|from|once|when)"
    r"|(?:process|confirm|sort|handle|arrange) (?:the|my|our) cancellation"
    r"|(?:bank|card company|card issuer|credit card company) (?:is |are |has |have )?(?:\w+ )?"
    r"(?:investigating|disputing|reversing|looking into) (?:the|this|my|a) (?:\w+ )?(?:charge"
    r"|payment|transaction)"
    r"|(?:vertrag|abo(?:nnement)?|mitgliedschaft|konto|zusammenarbeit) (?:\w+ ){0,4}(?:beenden"
    r"|auflösen|aufheben)|anul(?:ar|o|é|en) (?:mi|nuestra|la|el) (?:suscripci[oó]n|cuenta|contrato"
    r"|plan)|passare (?:a|ad) (?:un|una) (?:altr[oa]|nuov[oa]) (?:\w+ )?(?:fornitore|servizio"
    r"|provider|gestore|piattaforma|soluzione)"
    r"|cancelar (?:o|a|minha|meu|nosso|nossa) (?:\w+ )?(?:contrato|assinatura|conta|plano)"
    r"|(?:go|going|went|gone) with (?:a |another |one of your )?competitors?"
    r"|(?:then|after that) (?:we'?re|i'?m|we are|i am) (?:through|done|out|gone)"
    r"|instruct\w* my (?:bank|card issuer) not to|(?:cancel\w*|stop\w*|block\w*|revok\w*)"
    r" (?:\w+ ){0,3}direct debits?|discontinu\w* (?:our|my) (?:use|subscription|account|plan"
    r"|contract)|(?:we'?re|i'?m|we are|i am|will|'ll) go(?:ing)? elsewhere"
    r"|(?:don'?t|do not) (?:auto-?)?renew (?:us|me|my|our)|z?rezygn\w*"
    r"|(?:treat|consider|take) this as (?:our|my) (?:formal )?notice"
    r"|(?:deactivate|disable) (?:my|our) (?:\w+ )?(?:workspace|account|organi[sz]ation"
    r"|subscription)|stop (?:all )?(?:future|further) (?:billing|charges|payments)"
    r"|ne renouvel\w* pas|werden (?:\w+ ){0,3}nicht (?:mehr )?verlängern"
    r"|(?:bank|kreditkarten\w*) (?:\w+ ){0,2}(?:reklamier|widerspr|zurückbuch|zurückhol)\w*"
    r"|let(?:ting)? (?:my|our|the) (?:\w+ )?(?:membership|subscription|plan|contract)"
    r" (?:lapse|expire|run out)"
    r"|(?:last|final) (?:month|payment|invoice|year) (?:we'?re|we are|i'?m|i am|we'?ll"
    r"|i'?ll) (?:be )?pay\w*"
    r"|changer de (?:prestataire|fournisseur|solution|outil|logiciel|plateforme)"
    r"|cambiar(?:nos|me)? de (?:proveedor|plataforma|herramienta|servicio)"
    r"|cambiare (?:fornitore|piattaforma)|mudar de (?:fornecedor|plataforma)"
    r"|(?:den )?anbieter (?:zu )?wechseln|zu einem anderen (?:anbieter|tool|dienst)"
    r"|(?:take|taking|took|move|moving) (?:my|our) (?:business|custom|money) elsewhere"
    r"|(?:taking|take|move|moving|migrat\w*) (?:our|my) (?:\w+ )?(?:team|company|business|data"
    r"|workspace|account)s? (?:over )?to (?:another|a different|a new|a competing|a cheaper)"
    r" (?:\w+ )?(?:platform|tool|provider|vendor|service|product|solution|app|system)"
    r"|terminat\w* (?:our|my|the) (?:agreement|contract|subscription|account|service)"
    r"|end (?:my|our) (?:plan|subscription|membership|account|agreement)"
    r"|(?:payments?|charges?|transactions?) (?:\w+ ){0,6}(?:as )?not authori[sz]ed"
    r"|my (?:card provider|card company) (?:as|about|to)"
    r"|(?:our|my) last (?:invoice|payment|month|bill) with you|confirm the (?:closure"
    r"|cancellation|termination)"
    r"|(?:chosen|chose|picked|selected|gone with|going with|decided on|signed with) (?:a |an )?"
    r"(?:different|another|new|other|competing) (?:vendor|provider|supplier|tool|platform"
    r"|solution|service)|(?:zu )?(?:einem |einen )?(?:wettbewerber|konkurrenten|mitbewerber)"
    r"|no longer (?:be )?(?:a |your )?(?:customer|client|subscriber)s?"
    r"|(?:won'?t|will not) be (?:a |your )?(?:customer|client|subscriber)s? (?:any ?more|after)",
    # Japanese
    r"解約|退会|チャージバック|アカウント(?:を)?削除|サブスク\w*(?:を)?(?:キャンセル|停止)",
)

LEGAL = _rx(
    # English
    r"lawyers?|attorneys?|solicitors?|sue|sues|suing|sued|lawsuits?|legal (?:action|steps)"
    r"|legal counsel|counsel|legal advice|legal department will"
    r"|(?:(?:take|taking|see|go|going|drag|bring|sue) (?:you |this |it |them |the matter )?to"
    r"|in|small claims) court|court (?:case|order|action)|consumer protection|ombudsman|regulator"
    r"|(?:call|calling|report\w* (?:you|this|it) to|contact\w*|involve"
    r"|go(?:ing)? to) (?:the )?police"
    r"|police (?:report|complaint)|subpoena"
    r"|cease and desist|data protection authority|class action|litigation|legal proceedings"
    r"|gdpr|dsar|data subject (?:access )?request|right (?:to be forgotten|to erasure|of access)"
    r"|legally (?:obliged|required|bound|obligated)|breach of contract|consumer rights"
    r"|\w+ rights act|violat\w* (?:the |my |our )?(?:\w+ )?(?:law|act|rights|regulations?"
    r"|directive)|formal complaint|statutory"
    # German
    r"|(?:rechts)?anw[aä]lt(?:in|e|s)?|anwaltlich|verklag(?:e|en|t)|klage|gericht"
    r"|rechtliche(?:n)? schritte|verbraucherzentrale|verbraucherschutz|datenschutzbeh[öo]rde"
    r"|dsgvo|art\.? ?\d+ dsgvo"
    # French
    r"|avocats?|poursuivre en justice|poursuites|proc[èe]s|tribunal|action en justice"
    r"|mise en demeure|porter plainte|plainte|la cnil|association de consommateurs|rgpd"
    # Spanish
    r"|abogad[oa]s?|demandar|demandaremos|(?:los|le|la|les) (?:voy a )?demand(?:o|ar[ée])"
    r"|voy a demandar|tribunales?|acciones legales|denuncia(?:r)?|juzgado|la ocu"
    # Italian, Portuguese, Dutch
    r"|avvocat[oi]|processar|justi[çc]a|advogad[oa]|advocaat|rechtszaak|juridische stappen"
    # Polish, Swedish, Danish, Turkish, Czech, Russian, Finnish
    r"|prawnik\w*|adwokat\w*|pozw\w*|pozew|advokat\w*|stämm(?:a|er)|domstol\w*|avukat\w*"
    r"|dava\w*|mahkeme\w*|právník\w*|advokát\w*|žalob\w*|soud(?:u|em|ní)?"
    r"|юрист\w*|адвокат\w*|в суд|иск\w*|asianajaj\w*|oikeuteen"
    # Authorities and watchdogs, the law broken, the legal route
    r"|report\w* (?:you|this|it|the company|your company) to (?:the )?(?:\w+ ){0,3}(?:ico|ftc|bbb"
    r"|authorit\w+|regulator|ombudsman|watchdog|trading standards|cnil|agency|commission)"
    r"|data protection (?:violation|breach)|breach of (?:the )?(?:\w+ ){0,2}(?:law"
    r"|act|gdpr|regulation)|rechtlich (?:prüfen|vorgehen)|juristisch\w*|rechtliche konsequenzen"
    r"|vie legali|azione legale|tribunale|procon|a[çc][ãa]o (?:judicial|na justi[çc]a)"
    r"|entrar com (?:uma )?a[çc][ãa]o|konsumentverket|anmäl\w* (?:er|dig|företaget)"
    r"|forbrugerombudsmand\w*|tüketici hakem\w*|v[ií]a judicial|dgccrf|soudní cest\w*"
    r"|rozhodčí|omic|oficina del consumidor|defensa del consumidor|rechter|rechtbank"
    r"|sąd(?:u|zie|owi|em|ow[aey])?"
    # Formal register: remedies, notice, breach of a clause; complaints to a watchdog
    r"|legal (?:remedies|recourse|route|means|options)|through the courts|(?:in|a) violation of"
    r"|(?:process\w*|shar\w*|sold|sell\w*|us\w*) (?:my|our) (?:personal )?data without"
    r"|medidas legales|medidas judiciales|rechtsbeistand\w*"
    r"|reclamaci[oó]n formal|autoridad de consumo|better business bureau|jurist\w*"
    r"|claim against (?:you|your company|the company)|(?:further|action|pursue\w*|proceed\w*)"
    r" legally|(?:a|the) judge|before (?:a|the) (?:court|judge|tribunal)"
    r"|action (?:collective|de groupe)"
    r"|legal (?:advis[eo]rs?|representatives?)|reserve (?:all |any )?(?:of )?(?:my|our) (?:legal )?"
    r"rights|(?:behalten uns|behalte mir) (?:\w+ )?(?:rechte|schritte) vor"
    r"|(?:rivolg\w*|contatt\w*|sentire) (?:a |al |il nostro |il mio )?(?:un )?legale"
    r"|(?:county|district|civil|magistrates'?|claims) court"
    r"|claim (?:in|at|with) (?:the )?(?:\w+ )?court"
    r"|(?:is|are|was|it'?s|this is) (?:\w+ )?(?:illegal|unlawful)"
    r"|(?:illegal|unlawful) (?:under|according"
    r" to|in the eu)|data protection (?:commissioner|authority|regulator)|information commissioner"
    r"|trading standards|saisir (?:la justice|le tribunal|les tribunaux|le m[ée]diateur)"
    r"|formal notice|notice of breach|in breach of"
    r"|(?:seek\w*|claim\w*|sue for|recover\w*) (?:\w+ )?damages|damages claim|tribunal"
    r"|(?:your|their) (?:legal )?liability"
    r"|breach of (?:section|clause|our|the) |skarg\w* do|uokik|rzecznik\w* (?:praw )?konsument\w*",
    # Japanese
    r"弁護士|訴訟|法的(?:措置|手段)|裁判|消費者センター",
)
# Bringing in one's own lawyers or legal team is a threat even where the words alone
# ("our legal team") are usually a paperwork question; matched before NOT_LEGAL masks them.
LEGAL_THREAT = _rx(
    r"(?:our|my) legal (?:department|team) (?:has|have|is|are|will)(?: been)? (?:\w+ ){0,2}"
    r"(?:aware|involved|informed|notified|respond\w*|contact\w*|review\w*|look\w*)|"
    r"(?:hear from|involve|involving|bring(?:ing)? in|get(?:ting)?|contact(?:ing)?"
    r"|(?:escalat|hand|pass|forward|refer)\w* (?:this|it|the matter) (?:on |over )?to) (?:our|my)"
    r" (?:legal (?:team|department)|lawyers?|attorneys?|solicitors?)"
)
# "Legal" phrases that are questions about our paperwork, not threats.
NOT_LEGAL = _rx(r"(?:our|my) (?:lawyer|attorney|solicitor|legal counsel)(?:'s (?:office|firm))?"
                r" (?:asked|needs|wants|requested|would like) (?:for |to (?:see|review|have|get) )?"
                r"(?:an? |the )?(?:copy|copies|your|the|our|invoice|receipt|statement)|"
                r"(?:gdpr |dsgvo )?(?:data processing agreement|dpa)|gdpr[- ]complian\w*"
                r"|(?:our|my) legal team|legal (?:department|team|entity|name|address|notice)"
                r"|law firm|lawyer-friendly|\bDPA\b")

# Their own customers' chargebacks and disputes are a product question, not a dispute of ours.
NOT_CHURN = _rx(
    r"(?:a|my|our|the) (?:customers?|clients?|buyers?|shoppers?|users?) (?:\w+ ){0,2}"
    r"(?:files?|filed"
    r"|opens?|opened|raises?|raised|initiates?|makes?|issues?|disputes?) (?:a |the )?(?:chargeback"
    r"|dispute|charge)s?"
)

# Product questions about *their* customers reaching a person ("let my customers talk to a
# human agent in the widget"): masked before reading a request for a person.
NOT_WANTS_HUMAN = _rx(
    r"(?:let|allow|enable|help|can) (?:my |our )?(?:customers|users|clients|visitors|end users"
    r"|shoppers) (?:to )?(?:talk|speak|chat|reach|contact|call|request|book|ask)[^.?!\n]*"
)

URGENT = _rx(
    # English
    r"(?<!['\"‘“])urgent\w*(?!['\"’”])|asap|emergency|incident|(?:by|before|until) \d{1,2}"
    r"(?::\d\d)? ?(?:am|pm|uhr|h)\b|(?:today|tonight|tomorrow) (?:at|by|before) \d{1,2}"
    r"|(?:launch|go live|going live|release|deadline)\w* (?:is )?(?:today|tonight|tomorrow)"
    r"|(?:several|many|most|half) (?:of )?(?:the )?(?:people|users|colleagues|agents|members)"
    r" (?:on|in|of) our|nessun\w* (?:de\w* )?(?:nostri )?(?:utenti|clienti)"
    r"|critical|outage|(?:is|are|went|goes|gone) (?:completely "
    r"|totally )?down|down for (?:all|everyone|every)|(?:all|every) (?:our |of our |single )?"
    r"(?:users?|customers?|staff|employees?|clients?|stores?|shops?|locations?|branches?)"
    r"|(?:whole|entire) (?:team|company|office"
    r"|org(?:anisation|anization)?)"
    r"|(?:nobody|no one|no-one|everyone|everybody|none of (?:our|the) (?:\w+ )?(?:users|staff"
    r"|customers|employees)) (?:(?:in|on|at) [\w ]{1,20} )?(?:can(?:'t|not)?|gets?|is)"
    r"|(?:team|company|office) of \d{2,}|(?:all )?\d+ (?:employees|users|people|staff"
    r"|colleagues|agents|seats)(?: are| can't| cannot)|(?:all|any|none|each) of our \d+ \w+"
    r"|locked out|(?:client|customer|investor)"
    r" (?:demo|meeting|presentation|launch)|go[- ]live|(?:site|website|app|server|service|api"
    r"|checkout|shop|store)(?: is| went| has gone)? (?:down|offline|unreachable|broken for)"
    r"|production (?:is )?(?:down|broken|outage)|in (?:one|an|1|2|two|half an) hours?"
    r"|(?:by |before )?end of (?:the )?day|by tomorrow|board meeting"
    r"|deadline[^.?!\n]{0,40}(?:today|tonight|tomorrow|hours?|this (?:morning|afternoon|evening))"
    r"|losing (?:sales|money|orders|customers|revenue)"
    # German
    r"|dringend\w*|eilt|notfall|(?:ist|sind) (?:seit [\w ]{1,20} )?(?:komplett |völlig |total )?"
    r"(?:down|offline|nicht erreichbar)|(?:total)?ausfall|niemand (?:in|aus|kann)"
    r"|alle (?:nutzer|benutzer|mitarbeiter|kunden|zahlungen|bestellungen|filialen)|sofort"
    r"|nicht (?:mehr )?erreichbar|ausgefallen|keiner (?:kann|von uns)"
    # French
    r"|urgence|panne|toute l'[ée]quipe|tous (?:les|nos) (?:utilisateurs|clients|magasins"
    r"|boutiques|sites|employ[ée]s|salari[ée]s)"
    r"|personne ne peut"
    # Spanish, Italian, Portuguese, Dutch
    r"|urgente|ca[íi]d[oa]|todos (?:los|nuestros) (?:usuarios|clientes)|nadie puede"
    r"|ning[uú]n (?:usuario|cliente)|ya no pueden|ne peuvent plus|[èe] gi[ùu]|tutti i (?:nostri )?"
    r"(?:clienti|utenti)|ningu[ée]m (?:da|do|na|no|consegue)|fora do ar|niemand (?:in|van|kan)"
    # Polish, Swedish, Danish, Turkish, Czech, Russian, Finnish
    r"|pilne|pilnie|nikt (?:z|w) \w+ nie|brådskande|akut|ingen (?:i|på) \w+ kan|haster"
    r"|acil|kimse\b[^.!?\n]{0,30}(?:amıyor|emiyor|amaz|emez)|urgentn[íi]|naléhav\w*"
    r"|nikdo (?:z|v|ve) \w+|срочно|никто (?:из|в) \w+|kiireellinen|kiire",
    # Japanese
    r"至急|緊急|全員|障害|ダウンして",
)

# "Not urgent", "no rush": said so that nobody hurries.
NOT_URGENT = _rx(
    r"(?:not|isn'?t|is not|nothing|no) (?:\w+ )?(?:urgent|critical|an emergency)|no (?:rush|hurry)"
    r"|nicht (?:so )?(?:dringend|eilig)|keine eile|(?:pas|rien d')urgent|no es urgente"
    r"|sin prisa|non (?:è )?urgente|niet dringend"
)

# Strong words in several languages: one of them is enough for "angry".
ANGER = _rx(
    r"disgraceful|disgrace|shambles|shameful|unacceptable|outrageous|disgusting|furious|fed up"
    r"|sick (?:and tired )?of"
    r"|this is (?:a joke|ridiculous|absurd|insane|a disgrace|a scam)|what a joke"
    r"|absolutely ridiculous|incompetent|worst (?:support|service|customer service|experience"
    r"|company|app|product)|thanks for nothing|canned (?:answers|responses|replies)"
    r"|after (?:two|three|four|five|\d+) (?:e-?mails|messages|calls|tickets)"
    r"|i'?m done with (?:you|this)|took you (?:\w+ )?(?:days|weeks|months)"
    r"|(?:days|weeks) and (?:still )?no (?:answer|reply|response)|still no (?:answer|reply"
    r"|response)"
    r"|seit (?:tagen|wochen|monaten)|depuis des (?:jours|semaines|mois)"
    r"|llevo (?:d[íi]as|semanas|meses)"
    r"|frechheit|unversch[äa]mt|inakzeptabel|unzumutbar|katastrophe"
    r"|die nase voll|reicht mir|sauerei|zumutung"
    r"|inadmissible|inacceptable|scandaleux|honteux|lamentable|j'en ai marre|ras le bol"
    r"|service nul|c'est nul|honte"
    r"|estoy hart[oa]|inaceptable|vergüenza|verguenza|indignante|una estafa|una broma"
    r"|p[ée]sim[oa]|harto|inaccettabile|vergogna|schandalig|belachelijk|schande"
    r"|que absurdo|um absurdo|absurdo|vergonha|inaceit[aá]vel"
    r"|oburzając\w*|oacceptabel\w*|uacceptabel\w*|skandal\w*|rezalet\w*|saçmalık"
    r"|ostuda|nehoráznost|nepřijateln\w*|безобразие|возмутительно|позор"
    r"|beyond (?:ridiculous|a joke|frustrat\w*|unacceptable)|done being (?:polite|patient|nice)"
    r"|worst (?:\w+ ){0,2}(?:ever|you'?ve)|do you even test|saftladen|reicht (?:es )?mir"
    r"|(?:j'en ai|on en a) (?:\w+ )?marre|en ai (?:\w+ )?marre"
    r"|pathetic|are you kidding|you(?:'re| are) kidding|kidding me|a complete joke"
    r"|lächerlich|stinksauer|mir reicht'?s|es reicht|ridicule|scandale|j'en ai assez"
    r"|exaspér\w*|furieux|furieuse|rid[íi]culo|indignad[oa]|furios[oa]|tomadura de pelo"
    r"|sono stuf[oa]|arrabbiat\w*|ridicolo|assurdo|revoltad[oa]|palha[çc]ada"
    r"|waardeloos|ben het zat|wściek\w*|żenad\w*|żenując\w*|förbannad|bedrövlig\w*"
    r"|skandaløs\w*|latterlig\w*|berbat|kabul edilemez|bıktım|nehorázn\w*|mám toho dost"
    r"|отвратительн\w*|надоело|törkeä\w*|ala-arvoi\w*|kyllästyn\w*|sauer"
    r"|schon (?:wieder|das (?:zweite|dritte|vierte|fünfte|x-te) mal)"
    r"|(?:d[ée]j[àa] )?la (?:troisi[èe]me|quatri[èe]me|cinqui[èe]me) fois"
    r"|(?:ya )?(?:es )?la (?:tercera|cuarta|quinta) vez|(?:já )?(?:é )?a (?:terceira|quarta) vez"
    r"|(?:gi[àa] )?la (?:terza|quarta|quinta) volta|(?:третий|четв[её]ртый|пятый) раз",
    r"ふざけるな|ふざけないで|最悪|いい加減にして",
)

# Praise next to a complaint is sarcasm: "Oh great, another outage", "Brilliant work",
# "Toll gemacht", "Vraiment génial votre service" after something broke.
_PRAISE = _rx(
    r"(?:oh|wow|yeah|just),? (?:great|brilliant|fantastic|wonderful|amazing|perfect|thanks a lot)"
    r"|(?:great|good|nice|brilliant|fantastic|excellent|wonderful|amazing) (?:job|work|service"
    r"|support)|thanks a lot for|love how|well done|toll gemacht|na toll|super gemacht"
    r"|^\s*(?:great|fantastic|brilliant|wonderful|perfect|awesome)\s*[.!]|really loving (?:it|this)"
    r"|(?:just )?love (?:it|this) when|bravo|vraiment génial|génial votre"
    r"|muchas gracias por nada|qu[ée] bien|complimenti"
)
_COMPLAINT = _rx(
    r"another|yet again|once again|(?:fifth|fourth|third|\d+th) time|deleted?|deleting|wiped"
    r"|broke|broken|breaking|crash\w*|outage|ate my|lost my|down again|looking into it"
    r"|wieder(?: mal)?|schon wieder|kaputt\w*|encore une?|panne|otra vez|de nuevo|ancora"
)


def sarcasm(text: str) -> str | None:
    """Praise together with a complaint ("Wow, thanks a lot for deleting my projects")."""
    praise = first(_PRAISE, text)
    return praise if praise is not None and _COMPLAINT.search(text) else None


# An acknowledgement closes a conversation quietly (no draft, no card), so it must be sure:
# a short message with thanks or "it works" in it and nothing else to act on: no question,
# no "but"/"still", no negation, no problem word, no new request. A missed acknowledgement
# costs an agent a glance; a false one leaves a customer unanswered.
_THANKS_WORD = _rx(
    r"thanks?|thank you|thx|ty|tysm|cheers|(?:much )?appreciated|appreciate (?:it|that|the help)"
    r"|got it|perfect|all (?:sorted|good|set)|(?:solved|sorted|fixed|resolved)(?: now)?"
    r"|(?:that|it|this) (?:worked|works|did it|did the trick|fixed it)|works (?:now|again|fine)"
    r"|came through|arrived|went through (?:fine|ok(?:ay)?|smoothly)|all i needed"
    r"|danke\w*|dank|vielen dank|geklappt|klappt|funktioniert|perfekt|erledigt"
    r"|merci|(?:[çc]a|cela|tout) (?:marche|fonctionne)|r[ée]gl[ée]|r[ée]solu|parfait"
    r"|gracias|funciona|resuelto|solucionado|perfecto|grazie|funziona|risolto|obrigad[oa]"
    r"|funcionou|resolvido|deu certo|bedankt|dank je(?: wel)?|werkt|opgelost"
    r"|dziękuj\w*|dzięki|działa|tack|fungerar|löst|tak|virker|teşekkür\w*|sağ ?ol\w*"
    r"|çalıştı|çözüldü|děkuj\w*|díky|funguje|vyřešeno|спасибо|работает|kiitos|toimii",
    r"👍|🙏|ありがとう|解決しました|直りました|できました",
)
# Closing phrases that contain a negation but end the conversation.
_CLOSERS = _rx(
    r"no (?:further|more|other) questions?|no worries|no problem|nothing else|that'?s all"
    r"|(?:problem|issue|error) (?:is )?(?:now )?(?:solved|fixed|sorted|resolved|gone)"
    r"|(?:that'?s|this is) (?:all|exactly what) i needed|(?:this|that) time|on this one"
    r"|keine weiteren fragen|c'est tout|eso es todo|have a (?:nice|good|great) (?:day|weekend)"
)
_NOT_THANKS = _rx(
    # thanks that are not: refusals and sarcasm
    r"no,? thanks?|no thank you|nein,? danke|non,? merci|no,? gracias|no,? grazie"
    r"|thanks? (?:you )?for nothing|for nothing|f[üu]r nichts|pour rien|por nada|in advance"
    r"|im voraus|d'avance|de antemano"
    # a contrast or something still wrong, a condition
    r"|unless|otherwise|if|sonst|sinon|but|however|still|though|although|except|only|yet|again\?|aber|trotzdem"
    r"|immer noch"
    r"|noch immer|weiterhin|jedoch|mais|toujours|encore|cependant|pero|sigue|todav[ií]a|a[úu]n"
    r"|ma|ancora|però|mas|ainda|continua|maar|nog|ale|nadal|wciąż|men|fortfarande|ama|hâlâ"
    r"|pořád|stále|но|всё ещё|ещё|mutta|vielä|stadig"
    # a negation or a problem
    r"|not|no|n't|never|nicht|kein\w*|nie|pas|non|niet|geen|inte|ikke|не|ei|değil|ne"
    r"|error|errors|fail\w*|broken|crash\w*|bug|wrong|problem|issue|fehler|erreur|falla"
    r"|errore|erro|fout|błąd|fel|hata\w*|chyba|ошибк\w*|virhe"
    # a new request
    r"|please|pls|can you|could you|would you|also|another|one more|how|why|where|when"
    r"|(?<!exactly )(?<!just )what|comment|pourquoi|c[óo]mo|d[óo]nde|por qu[ée]|warum|perch[ée]"
    r"|dlaczego|varför|neden|proč|почему|как|miksi|waarom"
    r"|merci de (?:bien vouloir|me|m'|nous|faire|v[ée]rifier|corriger|envoyer)"
    r"|need|want|asap|brauche|besoin|necesito|preciso"
    r"|bitte|pouvez|pourriez|puede|podr[ií]a|por favor|per favore|potete|prosz\w*|snälla",
    r"でも|まだ|エラー|ですが|けど",
)
_SIGN_OFF = re.compile(
    r"(?im)^\s*(?:best(?: regards)?|regards|kind regards|cheers|thanks|viele grüße|"
    r"mit freundlichen grüßen|lg|vg|cordialement|bien à vous|saludos|un saludo|atentamente)"
    r"[,.!]*\s*(?:\n.*)?$"
)


def acknowledgement(text: str) -> str | None:
    """The message is only thanks / "it works" (no question, no new problem): its phrase."""
    body = " ".join(text.split())
    if "?" in body or "？" in body or len(body) > 160 or len(body.split()) > 20:
        return None
    thanks = first(_THANKS_WORD, body)
    if thanks is None:
        return None
    rest = _CLOSERS.sub(" ", " ".join(_SIGN_OFF.sub("", text).split()) or body)
    if _NOT_THANKS.search(rest) or _NOT_THANKS.search(_CLOSERS.sub(" ", body)):
        return None
    return thanks
