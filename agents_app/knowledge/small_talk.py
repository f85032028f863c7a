"""What the offline agent says in each language it speaks, and how it tells small talk from a question.

Small talk ("ok thanks!", "bye", "obrigada, até logo", "hey can u help me") is a message made only of
greeting, thanks, goodbye, acknowledgement and asking-for-help words: it gets a polite reply, never
an answer from the knowledge and never an "I don't know".
"""

from agents_app.knowledge.language import unaccent, words

SPOKEN = ("en", "es", "pt", "fr", "de")

_VOCABULARY = {
    "bye": "bye goodbye byebye cya later soon adios adeus hasta luego pronto tchau ate logo revoir au tschuss "
    "wiedersehen auf ciao see then talk tomorrow manana amanha demain morgen bis",
    "thanks": "thanks thank thx ty tks cheers appreciate appreciated gracias muchas mil obrigado obrigada muito "
    "brigado merci beaucoup danke vielen dank schon sehr lot",
    "greeting": "hi hello hey hiya heya hola buenas buenos dia dias tardes noches oi ola bom boa tarde noite "
    "bonjour bonsoir salut coucou hallo guten tag morgen abend servus moin good morning afternoon evening there",
    "help": "can could u you help me i have a question some pregunta una puedes pueden ayudarme ayuda tengo "
    "pode podem ajudar ajuda tenho duvida pergunta aide aidez moi peux pouvez j'ai hilfe helfen konnen sie ich "
    "habe eine frage",
    "ack": "ok okay k kk okk cool great perfect perfecto perfeito parfait super nice good fine alright sure got "
    "found it noted vale bueno genial otimo bem entendido entendi claro d'accord gut alles klar understood "
    "awesome amazing lovely brilliant",
}
_FILLER = set(
    "so much very really a lot again and all the for your ya also y e et und oh ah well yes si sim oui ja".split()
)
_KINDS = ("bye", "thanks", "greeting", "help", "ack")
_WORDS = {kind: frozenset(unaccent(w) for w in vocabulary.split()) for kind, vocabulary in _VOCABULARY.items()}

PHRASES = {
    "en": {
        "greeting": "Hi{name}! 👋 I'm {agent} from {business}.",
        "how_can_i_help": "How can I help you today?",
        "thanks": "You're welcome{name}! 😊 Is there anything else I can help with?",
        "bye": "Bye{name}! 👋 Have a lovely day.",
        "ack": "👍 Just write if there's anything else I can help with.",
        "handoff": "Sure! I'm bringing in a teammate 🙋 They will reply here shortly.",
        "other_language": "I can't answer that in English myself, so I'm bringing in a teammate 🙋 "
        "They will reply here shortly.",
        "dont_know": "I'm not sure I have the answer to that 🤔",
        "offer_human": "Would you like me to bring in a teammate?",
        "talk_to_human": "Talk to a human",
        "choices": "I found a few things that might help. Which one do you mean?",
        "choose": "Choose",
        "closest": "Closest answers",
        "media_thanks": "Thanks for the {kind}{name}! 📎",
        "cannot_open": "I can't open it myself.",
        "please_type": "I can't listen to voice notes myself: could you type your question?",
        "cannot_read": "I couldn't read it: could you type what you need?",
        "document_read": "Thanks for the document{name}! 📄 What would you like to know about it?",
        "document_noted": "Thanks for the document{name}! 📄 I've read it.",
        "take_a_look": "Would you like a teammate to take a look?",
        "kinds": {
            "image": "photo",
            "video": "video",
            "audio": "voice note",
            "document": "document",
            "sticker": "sticker",
        },
    },
    "es": {
        "greeting": "¡Hola{name}! 👋 Soy {agent}, de {business}.",
        "how_can_i_help": "¿En qué puedo ayudarte hoy?",
        "thanks": "¡De nada{name}! 😊 ¿Puedo ayudarte con algo más?",
        "bye": "¡Hasta luego{name}! 👋 Que tengas un buen día.",
        "ack": "👍 Escríbeme si necesitas algo más.",
        "handoff": "¡Claro! Te paso con una persona del equipo 🙋 Te responderá aquí en breve.",
        "other_language": "No puedo responder a eso en español, así que te paso con una persona del equipo 🙋 "
        "Te responderá aquí en breve.",
        "dont_know": "No estoy seguro de tener la respuesta a eso 🤔",
        "offer_human": "¿Quieres que te pase con una persona del equipo?",
        "talk_to_human": "Hablar con alguien",
        "choices": "Encontré algunas cosas que pueden ayudarte. ¿Cuál buscas?",
        "choose": "Elegir",
        "closest": "Respuestas cercanas",
        "media_thanks": "¡Gracias por {kind}{name}! 📎",
        "cannot_open": "Yo no puedo abrirlo.",
        "please_type": "No puedo escuchar notas de voz: ¿puedes escribir tu pregunta?",
        "cannot_read": "No pude leerlo: ¿puedes escribir lo que necesitas?",
        "document_read": "¡Gracias por el documento{name}! 📄 ¿Qué quieres saber sobre él?",
        "document_noted": "¡Gracias por el documento{name}! 📄 Ya lo he leído.",
        "take_a_look": "¿Quieres que una persona del equipo lo revise?",
        "kinds": {
            "image": "la foto",
            "video": "el vídeo",
            "audio": "la nota de voz",
            "document": "el documento",
            "sticker": "el sticker",
        },
    },
    "pt": {
        "greeting": "Olá{name}! 👋 Sou {agent}, da {business}.",
        "how_can_i_help": "Como posso ajudar hoje?",
        "thanks": "De nada{name}! 😊 Posso ajudar com mais alguma coisa?",
        "bye": "Até logo{name}! 👋 Tenha um bom dia.",
        "ack": "👍 Diga-me se precisar de mais alguma coisa.",
        "handoff": "Claro! Vou chamar um colega da equipa 🙋 Vai responder aqui em breve.",
        "other_language": "Não consigo responder a isso em português, por isso vou chamar um colega da equipa 🙋 "
        "Vai responder aqui em breve.",
        "dont_know": "Não tenho a certeza de ter a resposta a isso 🤔",
        "offer_human": "Quer que chame um colega da equipa?",
        "talk_to_human": "Falar com alguém",
        "choices": "Encontrei algumas coisas que podem ajudar. Qual procura?",
        "choose": "Escolher",
        "closest": "Respostas próximas",
        "media_thanks": "Obrigado pel{kind}{name}! 📎",
        "cannot_open": "Eu não consigo abri-lo.",
        "please_type": "Não consigo ouvir mensagens de voz: pode escrever a sua pergunta?",
        "cannot_read": "Não consegui lê-lo: pode escrever o que precisa?",
        "document_read": "Obrigado pelo documento{name}! 📄 O que gostaria de saber sobre ele?",
        "document_noted": "Obrigado pelo documento{name}! 📄 Já o li.",
        "take_a_look": "Quer que um colega da equipa veja?",
        "kinds": {
            "image": "a foto",
            "video": "o vídeo",
            "audio": "a mensagem de voz",
            "document": "o documento",
            "sticker": "o sticker",
        },
    },
    "fr": {
        "greeting": "Bonjour{name} ! 👋 Je suis {agent}, de {business}.",
        "how_can_i_help": "Comment puis-je vous aider aujourd'hui ?",
        "thanks": "Avec plaisir{name} ! 😊 Puis-je vous aider pour autre chose ?",
        "bye": "Au revoir{name} ! 👋 Bonne journée.",
        "ack": "👍 Écrivez-moi si vous avez besoin d'autre chose.",
        "handoff": "Bien sûr ! Je fais venir un membre de l'équipe 🙋 Il vous répondra ici très vite.",
        "other_language": "Je ne peux pas répondre à cela en français moi-même, alors je fais venir un membre de "
        "l'équipe 🙋 Il vous répondra ici très vite.",
        "dont_know": "Je ne suis pas sûr d'avoir la réponse à cela 🤔",
        "offer_human": "Voulez-vous que je fasse venir un membre de l'équipe ?",
        "talk_to_human": "Parler à quelqu'un",
        "choices": "J'ai trouvé quelques réponses possibles. Laquelle cherchez-vous ?",
        "choose": "Choisir",
        "closest": "Réponses proches",
        "media_thanks": "Merci pour {kind}{name} ! 📎",
        "cannot_open": "Je ne peux pas l'ouvrir moi-même.",
        "please_type": "Je ne peux pas écouter les messages vocaux : pouvez-vous écrire votre question ?",
        "cannot_read": "Je n'ai pas pu le lire : pouvez-vous écrire ce dont vous avez besoin ?",
        "document_read": "Merci pour le document{name} ! 📄 Que voulez-vous savoir à son sujet ?",
        "document_noted": "Merci pour le document{name} ! 📄 Je l'ai lu.",
        "take_a_look": "Voulez-vous qu'un membre de l'équipe y jette un œil ?",
        "kinds": {
            "image": "la photo",
            "video": "la vidéo",
            "audio": "le message vocal",
            "document": "le document",
            "sticker": "le sticker",
        },
    },
    "de": {
        "greeting": "Hallo{name}! 👋 Ich bin {agent} von {business}.",
        "how_can_i_help": "Wie kann ich Ihnen heute helfen?",
        "thanks": "Gern geschehen{name}! 😊 Kann ich sonst noch helfen?",
        "bye": "Tschüss{name}! 👋 Einen schönen Tag noch.",
        "ack": "👍 Schreiben Sie einfach, wenn ich sonst noch helfen kann.",
        "handoff": "Gern! Ich hole eine Kollegin oder einen Kollegen dazu 🙋 Sie antworten hier in Kürze.",
        "other_language": "Das kann ich selbst nicht auf Deutsch beantworten, deshalb hole ich jemanden aus dem "
        "Team dazu 🙋 Sie antworten hier in Kürze.",
        "dont_know": "Ich bin nicht sicher, ob ich darauf eine Antwort habe 🤔",
        "offer_human": "Soll ich jemanden aus dem Team dazuholen?",
        "talk_to_human": "Mit Menschen reden",
        "choices": "Ich habe einiges gefunden, das helfen könnte. Was meinen Sie?",
        "choose": "Auswählen",
        "closest": "Passende Antworten",
        "media_thanks": "Danke für {kind}{name}! 📎",
        "cannot_open": "Ich kann es selbst nicht öffnen.",
        "please_type": "Sprachnachrichten kann ich nicht anhören: Könnten Sie Ihre Frage tippen?",
        "cannot_read": "Ich konnte es nicht lesen: Könnten Sie tippen, was Sie brauchen?",
        "document_read": "Danke für das Dokument{name}! 📄 Was möchten Sie dazu wissen?",
        "document_noted": "Danke für das Dokument{name}! 📄 Ich habe es gelesen.",
        "take_a_look": "Soll sich jemand aus dem Team das ansehen?",
        "kinds": {
            "image": "das Foto",
            "video": "das Video",
            "audio": "die Sprachnachricht",
            "document": "das Dokument",
            "sticker": "den Sticker",
        },
    },
}


def phrase(language: str, key: str, **values: str) -> str:
    """The agent's sentence `key` in `language` (English when the agent does not speak it)."""
    text = PHRASES.get(language, PHRASES["en"])[key]
    return text.format(**values) if values else text


def media_kind(language: str, message_type: str) -> str:
    return PHRASES.get(language, PHRASES["en"])["kinds"].get(message_type, PHRASES["en"]["kinds"]["document"])


def small_talk_kind(text: str) -> str:
    """'greeting', 'thanks', 'bye', 'help' or 'ack' when `text` is only small talk; '' for anything else."""
    found = [unaccent(w) for w in words(text)]
    if not found or len(found) > 8:
        return ""
    if any(w not in _FILLER and not any(w in vocabulary for vocabulary in _WORDS.values()) for w in found):
        return ""
    for kind in _KINDS:
        if any(w in _WORDS[kind] for w in found):
            return kind
    return ""
