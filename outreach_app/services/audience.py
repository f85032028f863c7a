"""Who a campaign goes to: contacts chosen by tags and attributes, and rows imported from CSV."""

import csv
import io

import phonenumbers
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from messaging_app.models import Contact
from outreach_app.models import Campaign, CampaignRecipient
from outreach_app.services.template_values import parameter_key, template_keys
from whatsapp_platform.errors import Conflict, InvalidInput

PHONE_COLUMNS = ("phone", "phone_number", "number", "wa_id", "mobile", "to")
NAME_COLUMNS = ("name", "profile_name")
CSV_MAX_BYTES = 10 * 1024 * 1024
CSV_MAX_ROWS = 100_000
REPORT_MAX_ERRORS = 1000
_CHUNK = 1000


def audience_contacts(*, campaign: Campaign) -> QuerySet[Contact]:
    """Contacts on the campaign's channel with any of its tags and every one of its attributes.

    Nothing when neither tags nor attributes are set: an audience is always chosen, never "everyone".
    """
    tags = [str(tag) for tag in campaign.audience_tags or [] if str(tag).strip()]
    attributes = campaign.audience_attributes or {}
    if not tags and not attributes:
        return Contact.objects.none()
    contacts = Contact.objects.filter(channel_id=campaign.channel_id)
    for key, value in attributes.items():
        contacts = contacts.filter(**{f"attributes__{key}": value})
    if tags:
        if connection.features.supports_json_field_contains:
            any_tag = Q()
            for tag in tags:
                any_tag |= Q(tags__contains=[tag])
            contacts = contacts.filter(any_tag)
        else:
            # SQLite has no JSON containment; tags are few per contact, so compare them here.
            wanted = set(tags)
            ids = [pk for pk, have in contacts.values_list("pk", "tags").iterator() if wanted & set(have or [])]
            contacts = Contact.objects.filter(pk__in=ids)
    return contacts.order_by("pk")


def audience_materialise(*, campaign: Campaign) -> int:
    """Add the tag/attribute audience as recipients (imported rows stay as they are); returns the new rows."""
    contacts = audience_contacts(campaign=campaign)
    if connection.vendor == "postgresql":
        added = _recipients_insert_from(campaign, contacts)
    else:
        before = CampaignRecipient.objects.filter(campaign=campaign).count()
        contact_ids = list(contacts.values_list("pk", flat=True))
        for start in range(0, len(contact_ids), _CHUNK):
            CampaignRecipient.objects.bulk_create(
                [CampaignRecipient(campaign=campaign, contact_id=pk) for pk in contact_ids[start : start + _CHUNK]],
                ignore_conflicts=True,
            )
        added = CampaignRecipient.objects.filter(campaign=campaign).count() - before
    Campaign.objects.filter(pk=campaign.pk).update(audience_built_at=timezone.now())
    return added


def _recipients_insert_from(campaign: Campaign, contacts: QuerySet[Contact]) -> int:
    """INSERT ... SELECT: the audience becomes recipients inside PostgreSQL, in one statement. A launch
    to 10,000 contacts no longer reads their ids into Python and writes them back (seconds on a busy
    machine, all before the first send); contacts already recipients (imported) are left as they are."""
    try:
        select_sql, params = contacts.order_by().values_list("pk").query.sql_with_params()
    except EmptyResultSet:
        return 0  # an audience that can match nobody (no channel, an empty filter) compiles to no query at all
    table = connection.ops.quote_name(CampaignRecipient._meta.db_table)
    # Only our own table name and Django's compiled audience query are interpolated; values are parameters.
    sql = (
        f"INSERT INTO {table} (campaign_id, contact_id, parameters, state, reason, created_at) "  # noqa: S608
        f"SELECT %s, audience.contact_id, %s::jsonb, %s, '', %s FROM ({select_sql}) AS audience (contact_id) "
        "ON CONFLICT (campaign_id, contact_id) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [campaign.pk, "{}", CampaignRecipient.State.PENDING, timezone.now(), *params])
        return cursor.rowcount


def _phone_normalise(raw: str, default_region: str) -> str:
    """E.164 digits (no +), or ValueError with a reason a person can act on."""
    text = raw.strip()
    if not text:
        raise ValueError("the phone number is empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+") and not default_region:
        # As WhatsApp ids are written: digits that include the country code.
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else default_region.upper())
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{raw.strip()!r} is not a phone number ({exc._msg.rstrip('.').lower()})") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{raw.strip()!r} is not a valid phone number; write it with its country code, e.g. +4420…")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


def campaign_recipients_import_csv(*, campaign: Campaign, text: str, default_region: str = "") -> dict:
    """Add the CSV's rows as recipients; each bad row is reported (line and reason) and the rest imported.

    Columns: `phone` (or phone_number, number, wa_id, mobile, to), optional `name`, and one column per
    template parameter (`first_name`, or `1` for {{1}}) whose value is used for that row.
    """
    if not campaign.is_editable:
        raise Conflict(f"The campaign is {campaign.get_state_display().lower()}; recipients can no longer change.")
    if len(text.encode()) > CSV_MAX_BYTES:
        raise InvalidInput(f"The CSV is larger than {CSV_MAX_BYTES // (1024 * 1024)} MB; split it.", field="csv")
    if default_region and default_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidInput(f"{default_region!r} is not a country code such as GB or US.", field="default_region")
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff").replace("\x00", "")))
    try:
        headers = {(name or "").strip().lower(): name for name in reader.fieldnames or []}
    except csv.Error as exc:
        raise InvalidInput(f"The first line is not CSV: {exc}.", field="csv") from None
    if not headers:
        raise InvalidInput("The CSV is empty; the first line must name the columns, e.g. phone,name.", field="csv")
    phone_column = next((headers[c] for c in PHONE_COLUMNS if c in headers), None)
    if phone_column is None:
        raise InvalidInput(
            f"The CSV has no phone column; name one of its columns {', '.join(PHONE_COLUMNS[:2])} "
            f"(found: {', '.join(h for h in reader.fieldnames if h) or 'nothing'}).",
            field="csv",
        )
    name_column = next((headers[c] for c in NAME_COLUMNS if c in headers), None)
    parameter_columns = [h for h in reader.fieldnames if h and h not in (phone_column, name_column)]
    keys = template_keys(campaign.template) if campaign.template else []
    defaults = {parameter_key(k) for k, v in (campaign.parameter_values or {}).items() if str(v).strip()}

    errors: list[dict] = []
    accepted: dict[str, tuple[int, str, dict]] = {}  # wa_id -> (line, name, parameters)
    rows = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. a quote never closed: the rest of the file cannot be read
            errors.append({"line": reader.line_num, "reason": f"not readable as CSV ({exc}); the rest was not read"})
            break
        rows += 1
        line = reader.line_num
        if rows > CSV_MAX_ROWS:
            errors.append({"line": line, "reason": f"more than {CSV_MAX_ROWS} rows; the rest was not read"})
            break
        if None in row:  # more cells than headers
            errors.append({"line": line, "reason": "more values than the header has columns"})
            continue
        try:
            wa_id = _phone_normalise(row.get(phone_column) or "", default_region)
        except ValueError as exc:
            errors.append({"line": line, "reason": str(exc)})
            continue
        if wa_id in accepted:
            errors.append({"line": line, "reason": f"+{wa_id} is already on line {accepted[wa_id][0]}"})
            continue
        parameters = {parameter_key(c): (row.get(c) or "").strip() for c in parameter_columns}
        missing = [k for k in keys if not parameters.get(k) and k not in defaults]
        if missing:
            errors.append({"line": line, "reason": "no value for " + ", ".join("{{" + k + "}}" for k in missing)})
            continue
        accepted[wa_id] = (line, (row.get(name_column) or "").strip() if name_column else "", parameters)

    imported = _recipients_store(campaign, accepted) if accepted else 0
    report = {
        "imported": imported,
        "rejected": len(errors),
        "rows": rows,
        "errors": errors[:REPORT_MAX_ERRORS],
        "parameter_columns": [parameter_key(c) for c in parameter_columns if parameter_key(c) in keys],
        "ignored_columns": [c for c in parameter_columns if parameter_key(c) not in keys],
        "at": timezone.now().isoformat(),
    }
    Campaign.objects.filter(pk=campaign.pk).update(import_report=report, updated_at=timezone.now())
    campaign.import_report = report
    return report


@transaction.atomic
def _recipients_store(campaign: Campaign, accepted: dict[str, tuple[int, str, dict]]) -> int:
    channel = campaign.channel
    wa_ids = list(accepted)
    known: dict[str, int] = {}
    for start in range(0, len(wa_ids), _CHUNK):
        chunk = wa_ids[start : start + _CHUNK]
        known.update(Contact.objects.filter(channel=channel, wa_id__in=chunk).values_list("wa_id", "pk"))
    missing = [wa_id for wa_id in wa_ids if wa_id not in known]
    for start in range(0, len(missing), _CHUNK):
        chunk = missing[start : start + _CHUNK]
        # A contact that appears concurrently (its first message) wins; it is read back below.
        Contact.objects.bulk_create(
            [
                Contact(
                    workspace_id=channel.workspace_id,
                    channel=channel,
                    wa_id=wa_id,
                    profile_name=accepted[wa_id][1][:256],
                )
                for wa_id in chunk
            ],
            ignore_conflicts=True,
        )
        known.update(Contact.objects.filter(channel=channel, wa_id__in=chunk).values_list("wa_id", "pk"))
    recipients = [
        CampaignRecipient(campaign=campaign, contact_id=known[wa_id], parameters=params, source_line=line)
        for wa_id, (line, _name, params) in accepted.items()
    ]
    for start in range(0, len(recipients), _CHUNK):
        CampaignRecipient.objects.bulk_create(
            recipients[start : start + _CHUNK],
            update_conflicts=True,
            unique_fields=["campaign", "contact"],
            update_fields=["parameters", "source_line"],
        )
    return len(recipients)
