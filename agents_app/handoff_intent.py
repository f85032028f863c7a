"""Does the customer ask for a person? A small multilingual intent check, no model needed.

A keyword list alone both misses and misfires: "let me speak to a manager" has no keyword in it, and
"I'm an agent for a logistics company" has one. So a request is a *request shape* around a *person word*,
per language (English, Spanish, Portuguese, German, French, Italian, Dutch), matched on normalised text
(lower case, accents and punctuation dropped), clause by clause, with guards:
- negation in the clause ("I don't need a human", "no quiero hablar con nadie", "ich will nicht …");
- the customer describing themselves ("I'm an agent for …", "soy gerente de …", "je suis agent …");
- a question about the bot ("are you a bot?", "are you human?", "eres una persona real?").
A bare person word ("human", "agent please", "operador!") counts when it is nearly the whole message, which
is also how the business's own handoff keywords are honoured.
"""

import re
import unicodedata
from dataclasses import dataclass

# Person words by language, normalised (no accents). Multi-word entries are matched as phrases.
_PEOPLE = {
    "en": (
        "person|human|human being|real person|live person|someone|somebody|anyone|anybody|agent|live agent|"
        "human agent|representative|rep|manager|supervisor|operator|staff|staff member|team member|teammate|"
        "employee|advisor|adviser|customer service|customer support|support|support team|the team"
    ),
    "es": (
        "persona|persona real|humano|ser humano|alguien|agente|asesor|asesora|operador|operadora|encargado|"
        "encargada|gerente|representante|empleado|empleada|supervisor|supervisora|responsable|atencion al cliente"
    ),
    "pt": (
        "pessoa|pessoa real|humano|ser humano|alguem|atendente|agente|gerente|operador|operadora|responsavel|"
        "funcionario|funcionaria|consultor|consultora|supervisor|atendimento humano"
    ),
    "de": (
        "mensch|menschen|echten menschen|einem menschen|mitarbeiter|mitarbeiterin|mitarbeitenden|person|jemandem|"
        "jemand|berater|beraterin|kundenservice|kundendienst|manager|vorgesetzten|support"
    ),
    "fr": (
        "quelqu un|personne|une personne|humain|un humain|conseiller|conseillere|agent|responsable|operateur|"
        "operatrice|manager|service client|vrai personne|vraie personne"
    ),
    "it": (
        "persona|persona reale|umano|essere umano|qualcuno|operatore|operatrice|agente|responsabile|consulente|"
        "manager|assistenza clienti"
    ),
    "nl": "mens|een mens|medewerker|medewerkster|iemand|persoon|echt persoon|klantenservice|manager",
}
_ARTICLE = {
    "en": r"(?:(?:a|an|the|some|your|one of your|a real|an actual|a live|a real live|to a|with a)\s+)?",
    "es": r"(?:(?:un|una|el|la|algun|alguna|un ser|una persona|su|tu)\s+)?",
    "pt": r"(?:(?:um|uma|o|a|algum|alguma|seu|sua)\s+)?",
    "de": r"(?:(?:einem|einer|einen|eine|ein|dem|der|den|mit|einem echten|einer echten|einen echten)\s+)?",
    "fr": r"(?:(?:un|une|le|la|l|a|au|un vrai|une vraie|votre)\s+)?",
    "it": r"(?:(?:un|una|uno|il|la|l|lo|qualche|un vero|una vera)\s+)?",
    "nl": r"(?:(?:een|de|het|een echte|een echt)\s+)?",
}
# Request shapes; {p} is the language's person words, {a} its optional article.
_REQUESTS = {
    "en": [
        r"\b(?:speak|talk|chat|connect|be connected|get through)\s+(?:to|with)\s+{a}(?:{p})\b",
        r"\b(?:transfer|put|pass|connect|escalate)\s+(?:me|this|us)\b.*?\b(?:to|with)\s+{a}(?:{p})\b",
        r"\b(?:get|give|bring)\s+(?:me\s+)?{a}(?:{p})\b(?!\s+(?:for|at|from|of|in|who)\b)",
        r"\b(?:i want|i need|i d like|i would like|can i have|can i get|may i have|let me have|i demand)\s+"
        r"(?:to\s+(?:speak|talk)\s+(?:to|with)\s+)?{a}(?:{p})\b(?!\s+(?:for|at|from|of|in)\b)",
        r"\b(?:someone|somebody|a person|a human|anyone)\s+(?:i|we)\s+(?:can|could)\s+(?:talk|speak)\s+(?:to|with)\b",
        r"\b(?:escalate|escalation)\b",
        r"\blet me (?:speak|talk)\b",
    ],
    "es": [
        r"\b(?:hablar|comunicarme|comunicar|contactar|conversar|chatear)\s+con\s+{a}(?:{p})\b",
        r"\b(?:pasame|paseme|me pasas|me pasa|me pase|me puedes pasar|me puede pasar|comunicame|comuniqueme|ponme|"
        r"pongame|transfiereme|transfierame|comunicarme)\s+"
        r"(?:con\s+)?{a}(?:{p})\b",
        r"\b(?:quiero|necesito|quisiera|me gustaria|puedo tener)\s+{a}(?:{p})\b(?!\s+(?:de|en|para)\b)",
    ],
    "pt": [
        r"\b(?:falar|conversar|comunicar)\s+com\s+{a}(?:{p})\b",
        r"\b(?:me passa|me passe|me transfere|me transfira|transferir|me coloca|me coloque)\s+(?:para|com|pra)\s+"
        r"{a}(?:{p})\b",
        r"\b(?:quero|preciso de|gostaria de)\s+{a}(?:{p})\b(?!\s+(?:de|em|para)\b)",
        r"\batendimento humano\b",
    ],
    "de": [
        r"\bmit\s+{a}(?:{p})\s+(?:\w+\s+)?(?:sprechen|reden|verbunden|chatten)\b",
        r"\b(?:verbinden sie mich|verbinde mich|stellen sie mich|bitte verbinden)\b.*?\b(?:mit|zu)\s+{a}(?:{p})\b",
        r"\b(?:ich (?:mochte|moechte|will|brauche|hatte gern|haette gern))\s+{a}(?:{p})\b",
        r"\b(?:sprechen|reden)\s+mit\s+{a}(?:{p})\b",
    ],
    "fr": [
        r"\b(?:parler|discuter|echanger)\s+(?:a|avec|au)\s+{a}(?:{p})\b",
        r"\b(?:passez moi|passe moi|mettez moi en relation avec|transferez moi|transfere moi)\s+{a}(?:{p})\b",
        r"\b(?:je veux|je voudrais|j aimerais|je souhaite)\s+{a}(?:{p})\b(?!\s+(?:de|chez|pour)\b)",
    ],
    "it": [
        r"\b(?:parlare|comunicare|chattare)\s+con\s+{a}(?:{p})\b",
        r"\b(?:passami|mi passi|mettimi in contatto con|mi metta in contatto con)\s+{a}(?:{p})\b",
        r"\b(?:voglio|vorrei|ho bisogno di)\s+{a}(?:{p})\b(?!\s+(?:di|per|in)\b)",
    ],
    "nl": [
        r"\b(?:spreken|praten)\s+met\s+{a}(?:{p})\b",
        r"\bmet\s+{a}(?:{p})\s+(?:spreken|praten)\b",
        r"\b(?:ik wil|ik zou graag)\s+{a}(?:{p})\b",
    ],
}
# Words that turn a request around when they come before it in the same clause.
_NEGATIONS = (
    r"\b(?:not|don t|dont|do not|doesn t|no|never|without|no need|nao|nunca|sem|sin|nicht|kein|keinen|keine|ohne|"
    r"nie|pas|jamais|sans|non|mai|senza|niet|geen|zonder)\b"
)
# The customer says what they are ("I'm an agent for …"): a person word as a job title, not a request.
_SELF = (
    r"\b(?:i m|im|i am|as an?|we are|soy|somos|como|sou|somos|ich bin|wir sind|als|je suis|nous sommes|"
    r"en tant que|sono|siamo|come|ik ben)\s+(?:an?\s+|un\s+|una\s+|um\s+|uma\s+|ein\s+|eine\s+|een\s+)?"
    r"(?:\w+\s+)?(?:agent|agente|manager|gerente|representative|representante|operator|operador|operatore|"
    r"employee|empleado|funcionario|mitarbeiter|mitarbeiterin|berater|conseiller|consulente|consultor|atendente|"
    r"supervisor|medewerker|responsable|responsabile|encargado)\b"
)
# Questions about the bot itself: "are you a bot?", "is this a real person?".
_BOT_QUESTION = (
    r"\b(?:are you|r u|are u|is this|am i (?:talking|chatting|speaking) (?:to|with)|eres|es usted|estoy hablando con|"
    r"voce e|e voce|estou falando com|bist du|sind sie|spreche ich mit|es tu|tu es|etes vous|vous etes|"
    r"je parle a|sei|sto parlando con|ben je|is dit)\b"
    r"\s*(?:an?\s+|un\s+|una\s+|um\s+|uma\s+|ein\s+|eine\s+|een\s+)?"
    r"(?:real\s+|actual\s+|echter\s+|vrai\s+|vraie\s+|reale\s+|de verdad\s+)?"
    r"(?:bot|robot|robo|ai|ia|ki|human|humano|humain|umano|mensch|person|persona|pessoa|personne|machine|maquina)\b"
)
# Words that may surround a bare person word and still leave a request ("a human please!").
_FILLER = {
    "please",
    "pls",
    "plz",
    "now",
    "asap",
    "thanks",
    "thank",
    "you",
    "hi",
    "hello",
    "hey",
    "a",
    "an",
    "the",
    "real",
    "live",
    "actual",
    "por",
    "favor",
    "porfa",
    "ya",
    "bitte",
    "jetzt",
    "sil",
    "vous",
    "plait",
    "svp",
    "per",
    "piacere",
    "alstublieft",
    "aub",
    "un",
    "una",
    "um",
    "uma",
    "einen",
    "eine",
    "ein",
    "echten",
    "urgente",
    "urgent",
    "dringend",
}
_MOST_WORDS_FOR_A_BARE_REQUEST = 5
# How many words before a request a negation still turns it around ("no quiero hablar con …").
_NEGATION_REACH = 4


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.replace("’", "'").replace("'", " ")
    return re.sub(r"[^\w?!.,;\n]+", " ", plain)


_CLAUSE = re.compile(r"[?!.,;\n]+|\b(?:but|pero|mas|aber|mais|ma|maar)\b")
_COMPILED = {
    language: [
        re.compile(pattern.replace("{p}", _PEOPLE[language]).replace("{a}", _ARTICLE[language])) for pattern in patterns
    ]
    for language, patterns in _REQUESTS.items()
}
_NEGATION = re.compile(_NEGATIONS)
_SELF_DESCRIPTION = re.compile(_SELF)
_BOT = re.compile(_BOT_QUESTION)
_BARE_PEOPLE = {language: re.compile(rf"(?:{words})") for language, words in _PEOPLE.items()}


@dataclass(frozen=True)
class HandoffIntent:
    """A request for a person, and the language it was made in (ISO 639-1)."""

    language: str
    clause: str


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE.split(_normalise(text)) if c and c.strip()]


def _guarded(clause: str, start: int) -> bool:
    """A request shape found at `start` that is negated (in the few words before it), a self-description or a
    question about the bot."""
    before = " ".join(clause[:start].split()[-_NEGATION_REACH:])
    return bool(_NEGATION.search(before) or _SELF_DESCRIPTION.search(clause) or _BOT.search(clause))


def _bare_request(clause: str, keywords: list[str]) -> str | None:
    """A clause that is little more than a person word (or one of the business's handoff keywords)."""
    words = clause.split()
    if not words or len(words) > _MOST_WORDS_FOR_A_BARE_REQUEST:
        return None
    if _SELF_DESCRIPTION.search(clause) or _BOT.search(clause) or _NEGATION.search(clause):
        return None
    for keyword in keywords:
        normal = _normalise(keyword).strip()
        if normal and re.search(rf"\b{re.escape(normal)}\b", clause):
            rest = re.sub(rf"\b{re.escape(normal)}\b", " ", clause).split()
            if all(word in _FILLER for word in rest):
                return "en"
    for language, pattern in _BARE_PEOPLE.items():
        match = pattern.fullmatch(" ".join(w for w in words if w not in _FILLER))
        if match:
            return language
    return None


def handoff_intent(text: str, *, keywords: list[str] | None = None) -> HandoffIntent | None:
    """The customer's request for a person in `text`, or None. `keywords`: the business's own handoff words,
    honoured when they are (nearly) the whole message."""
    for clause in _clauses(text or ""):
        for language, patterns in _COMPILED.items():
            for pattern in patterns:
                match = pattern.search(clause)
                if match and not _guarded(clause, match.start()):
                    return HandoffIntent(language=language, clause=clause)
        language = _bare_request(clause, keywords or [])
        if language:
            return HandoffIntent(language=language, clause=clause)
    return None


def handoff_requested(text: str, *, keywords: list[str] | None = None) -> bool:
    """Whether the customer asks to be put through to a person (any of the languages above)."""
    return handoff_intent(text, keywords=keywords) is not None


# --- which language a message is in -----------------------------------------------------------

_STOPWORDS = {
    "en": "the and is are you your i my me to of for with what how can do does please thanks hello it this that "
    "when where want need have",
    "es": "el la los las y es son usted tu yo mi me de del para con que como puedo quiero por favor gracias hola "
    "una un esta este cuando donde necesito tengo tienen hay cuanto cuesta",
    "pt": "o a os as e voce seu sua eu meu minha de do da para com que como posso quero por favor obrigado "
    "obrigada ola um uma esta este quando onde preciso tenho nao quanto custa tem voces",
    "de": "der die das und ist sind sie du ich mein mir zu von fur mit was wie kann bitte danke hallo ein eine "
    "nicht wann wo mochte brauche habe habt ihr gibt es",
    "fr": "le la les et est sont vous tu je mon ma moi de du pour avec que comment puis veux s il vous plait "
    "merci bonjour un une ce cette quand ou besoin ai pas etes",
    "it": "il lo la gli le e sono lei tu io mio mia mi di del per con che come posso voglio per favore grazie "
    "ciao un una questo questa quando dove bisogno ho non",
    "nl": "de het een en is zijn u je ik mijn mij van voor met wat hoe kan wil alstublieft bedankt hallo dit dat "
    "wanneer waar nodig heb niet",
}
_STOP = {language: set(words.split()) for language, words in _STOPWORDS.items()}
# Letters only some of the languages use: a hint as good as a common word.
_LETTERS = {"es": "ñ¿¡", "pt": "ãõ", "de": "ßäöü", "fr": "èêàùœ", "it": "òì"}


def language_guess(text: str) -> str | None:
    """The language a customer writes in (en, es, pt, de, fr, it, nl) when its common words say so clearly;
    None for text too short or too mixed to tell."""
    words = _normalise(text or "").replace("?", " ").replace("!", " ").replace(".", " ").split()
    if not words:
        return None
    intent = handoff_intent(text)
    scores = {language: sum(word in stop for word in words) for language, stop in _STOP.items()}
    lowered = (text or "").lower()
    for language, letters in _LETTERS.items():
        scores[language] += any(letter in lowered for letter in letters)
    if intent is not None:
        scores[intent.language] += 2
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    return best if top > second else None
