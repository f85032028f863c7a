# Contacts, conversations and messages arrive with the WhatsApp engine.
