"""Which language a short customer message or a knowledge passage is in, and its words for retrieval.

WhatsApp messages are short ("e ao domingo?", "gracias!"), too short for a statistical detector trained
on sentences, so this counts what gives a language away in a few words: its function words (bm25s's
stopword lists), a few words only it uses, and letters only it writes. It knows the languages the
agent can answer small talk in; anything else is "" (unknown), and the caller falls back to the
conversation's language.

Retrieval words are lower-cased, stopwords dropped, Snowball-stemmed in the text's language and then
stripped of accents, so "marcação", "marcaçao" and "marcações" are one word.
"""

import re
import threading
import unicodedata
from functools import cache

import snowballstemmer
from bm25s import stopwords as bm25s_stopwords

LANGUAGES = ("en", "es", "pt", "fr", "de", "it", "nl")
_SNOWBALL = {
    "en": "english",
    "es": "spanish",
    "pt": "portuguese",
    "fr": "french",
    "de": "german",
    "it": "italian",
    "nl": "dutch",
}
_STOPWORDS = {
    # bm25s's short list and the words of a question; not its long list, which drops "down", "first" or "can't".
    "en": (
        *bm25s_stopwords.STOPWORDS_EN,
        *"i me my we our us you your he she him her do does did done can could would should what how when where "
        "which who why have has had am been it's i'm i'd i've there's get got any some much many just also about "
        "from up out so too very please".split(),
    ),
    "es": bm25s_stopwords.STOPWORDS_SPANISH,
    "pt": bm25s_stopwords.STOPWORDS_PORTUGUESE,
    "fr": bm25s_stopwords.STOPWORDS_FRENCH,
    "de": bm25s_stopwords.STOPWORDS_GERMAN,
    "it": bm25s_stopwords.STOPWORDS_ITALIAN,
    "nl": bm25s_stopwords.STOPWORDS_DUTCH,
}
# Words that give a language away in a short message (greetings, thanks, question words); they weigh more
# than the function words, which neighbouring languages share ("a", "de", "que", "e").
_TELLING = {
    "en": "hi hello hey thanks thank you please bye what when where how much does do is are can the my your ok okay "
    "cheers got found great cool r ur u good morning afternoon evening",
    "es": "hola gracias adiós adios buenas buenos días dias cuánto cuanto cuánta dónde donde cómo puedo quiero "
    "hacen envían envian tienen usted ustedes y el los las una persona hablar también vale",
    "pt": "olá ola oi obrigado obrigada tchau bom dia boa tarde noite quanto quanta onde como posso quero "
    "vocês voces vcs fazem têm tem você voce não nao ao às pelo pela até logo falar alguém alguem aceitam "
    "vendem fica ficam custa preço consulta queria gostaria",
    "fr": "bonjour bonsoir salut merci beaucoup revoir combien où comment je peux voudrais vous est-ce qu'un "
    "parle français oui non avec",
    "de": "hallo guten tag danke tschüss tschuss wie viel wo kann ich sie ihr haben geöffnet bitte mit und ist",
    "it": "ciao grazie buongiorno arrivederci quanto dove come posso vorrei avete",
    "nl": "hoi dank bedankt goedendag hoeveel waar hoe kan ik jullie heeft",
}
_LETTERS = {"es": "ñ¿¡", "pt": "ãõ", "de": "ßäöü", "fr": "èêëœ"}
# Word endings only one of the languages has (Portuguese plurals in -ões, -ns; Spanish -ción).
_ENDINGS = {"pt": ("ões", "ção", "ns", "am", "ico", "ica", "icas"), "es": ("ción", "ciones")}
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "")]


def unaccent(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


@cache
def _telling(language: str) -> frozenset[str]:
    return frozenset(_TELLING[language].split())


@cache
def _stopwords(language: str) -> frozenset[str]:
    return frozenset(_STOPWORDS[language])


def language_guess(text: str) -> str:
    """The language of `text` among LANGUAGES, or "" when it gives nothing away (a number, an emoji, "ok")."""
    found = words(text)
    if not found:
        return ""
    lowered = text.lower()
    scores = {}
    for language in LANGUAGES:
        score = 0.0
        for word in found:
            if word in _telling(language):
                score += 2.0
            elif word in _stopwords(language):
                score += 1.0
        score += 3.0 * sum(lowered.count(letter) for letter in _LETTERS.get(language, ""))
        score += sum(1.0 for word in found if len(word) > 4 and word.endswith(_ENDINGS.get(language, ("\0",))))
        scores[language] = score
    best = max(scores, key=scores.get)
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] < 1.5 or ranked[0] == ranked[1]:
        return ""
    return best


_local = threading.local()


def _stemmer(language: str):
    """A Snowball stemmer keeps the word it works on in the instance: one per thread."""
    stemmers = _local.__dict__.setdefault("stemmers", {})
    if language not in stemmers:
        stemmers[language] = snowballstemmer.stemmer(_SNOWBALL.get(language, "english"))
    return stemmers[language]


def terms(text: str, language: str, *, written_in: str = "") -> list[str]:
    """The retrieval words of `text`: no stopwords, stemmed in `language` (English when unknown), no accents.

    `written_in`: the language the text is written in, when it is stemmed as another (a Portuguese question
    matched against English passages): its stopwords go too.
    """
    language = language if language in _SNOWBALL else "en"
    stop = _stopwords(language) | (_stopwords(written_in) if written_in in _STOPWORDS else frozenset())
    kept = [w for w in words(text) if w not in stop and unaccent(w) not in stop and not w.isdigit()]
    return [unaccent(stem) for stem in _stemmer(language).stemWords(kept)]
