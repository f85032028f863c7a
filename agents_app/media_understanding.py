"""What a customer's media says, in words the model can read.

Today: what is known without opening the file (kind, name, type, size, caption). Voice-note
transcription and document text extraction build on this.
"""


def media_understanding(message) -> str:
    content = message.content if isinstance(message.content, dict) else {}
    details = [message.message_type]
    if content.get("filename"):
        details.append(str(content["filename"]))
    if message.media_mime_type:
        details.append(message.media_mime_type)
    if message.media_size:
        details.append(f"{message.media_size:,} bytes")
    if message.message_type == "audio" and content.get("voice"):
        details.append("voice note")
    return f"[The customer sent a {', '.join(details)}.]"
