"""Exports a campaign's results in a process of its own, for `make bench`: seeds a finished
campaign of ROWS contacts (half of them called, their calls analysed with two extracted fields,
one number in a hundred on the do-not-call list), then streams `results_csv` to nowhere, and
prints rows, seconds, bytes and memory as one JSON line.

    python -m tests.support.bench.export_probe ROWS
"""

import json
import os
import sys
import time
import uuid

from tests.support.bench.import_probe import RssSampler, rss_mb

BATCH = 5000


def seed(rows: int):
    from django.utils import timezone

    from analysis.models import CallAnalysis
    from campaigns.models import Campaign, CampaignContact, Contact, ContactList, DoNotCall
    from telephony.analysis_fields import FieldSpec, schema_of
    from telephony.models import AgentProfile, Call
    from telephony.services.calls import call_identity

    contact_list = ContactList.objects.create(name=f"Export bench {uuid.uuid4().hex[:6]}")
    for start in range(0, rows, BATCH):
        Contact.objects.bulk_create(
            Contact(contact_list=contact_list, consent=True, phone=f"+1415{2000000 + index:07d}",
                    first_name=f"Ada{index}", last_name="Lovelace", external_id=f"crm-{index}",
                    variables={"plan": "gold"})
            for index in range(start, min(start + BATCH, rows))
        )  # fmt: skip
    profile, _ = AgentProfile.objects.get_or_create(name="Export bench agent",
                                                    defaults={"pipeline_id": "bench"})  # fmt: skip
    campaign = Campaign.objects.create(
        name=f"Export bench {uuid.uuid4().hex[:6]}", agent_profile=profile,
        status=Campaign.Status.COMPLETED,
        analysis_fields=schema_of([FieldSpec("plan", "enum", "the plan", ("basic", "premium")),
                                   FieldSpec("budget", "number", "monthly budget")]),
    )  # fmt: skip
    campaign.contact_lists.add(contact_list)
    now = timezone.now()
    contacts = list(contact_list.contacts.order_by("pk").values_list("pk", "phone"))
    for start in range(0, len(contacts), BATCH):
        chunk = contacts[start : start + BATCH]
        calls, analyses, entries = [], [], []
        for index, (contact_id, phone) in enumerate(chunk, start):
            call = None
            if index % 2 == 0:
                call_id = uuid.uuid4()
                name, channel = call_identity(call_id)
                call = Call(id=call_id, to_number=phone, from_number="+14155550100",
                            agent_profile=profile, status="completed", answered_at=now,
                            ended_at=now, agora_name=name, channel=channel)  # fmt: skip
                calls.append(call)
                analyses.append(CallAnalysis(
                    call=call, disposition=("interested", "not_interested")[index % 4 // 2],
                    disposition_source="analyzer", summary=f"Outcome for contact {index}.",
                    fields={"plan": "basic", "budget": index % 90}, analyzer="builtin",
                ))  # fmt: skip
            entries.append(CampaignContact(campaign=campaign, contact_id=contact_id,
                                           status="completed", attempts=1,
                                           last_call=call))  # fmt: skip
        Call.objects.bulk_create(calls)
        CallAnalysis.objects.bulk_create(analyses)
        CampaignContact.objects.bulk_create(entries)
    DoNotCall.objects.bulk_create(
        [DoNotCall(phone=phone, reason="bench") for _, phone in contacts[::100]],
        ignore_conflicts=True,
    )
    return campaign


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    import django

    django.setup()
    from analysis.results import results_csv

    campaign = seed(int(sys.argv[1]))
    before = rss_mb()
    sampler = RssSampler()
    sampler.start()
    started = time.monotonic()
    lines = size = 0
    for line in results_csv(campaign):
        lines += 1
        size += len(line)
    elapsed = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    print(
        json.dumps(
            {
                "rows": lines - 1,  # the header
                "megabytes": round(size / 1e6, 1),
                "seconds": round(elapsed, 2),
                "rows_per_second": round((lines - 1) / elapsed),
                "peak_rss_mb": round(max(sampler.highest, rss_mb()), 1),
                "rss_before_export_mb": round(before, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
