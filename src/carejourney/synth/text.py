"""Free text from a vocabulary of real patient concerns, with sentiment that follows experience.

The topics are the ones patient-experience teams code comments into (wait time, price
clarity, callbacks, parking, staff courtesy, instructions, billing surprises, portal trouble,
language access). A person who met a friction writes about it, in negative words; a person
whose journey went well writes praise. Some texts carry an identifier (a phone number, a
name, an e-mail) the way real comments do, so the PHI scrubber is exercised.
"""

from __future__ import annotations

import random

__all__ = ["NEGATIVE", "POSITIVE", "comment", "portal_body", "TOPICS"]

NEGATIVE: dict[str, tuple[str, ...]] = {
    "wait_time": (
        "I waited {weeks} weeks for the first available appointment.",
        "It took over a month to get in, and my symptoms got worse while I waited.",
        "Sat in the waiting room for 50 minutes past my appointment time.",
    ),
    "callback": (
        "I filled out the form online and nobody called me back for two days.",
        "Left two voicemails and never got a call back.",
        "Was on hold for 20 minutes and then the call dropped.",
    ),
    "booking": (
        "The online booking kept freezing on my phone so I gave up.",
        "Could not finish scheduling on the website, the calendar would not load on my phone.",
    ),
    "referral": (
        "My doctor sent a referral but nobody ever called to schedule it.",
        "The referral got lost between offices and I had to chase it myself.",
    ),
    "language_access": (
        "The intake forms were only in English and nobody could help me in Spanish.",
        "No había formularios en español y no entendí las preguntas.",
        "I needed help in Spanish and nobody at the front desk could help me.",
    ),
    "instructions": (
        "The instructions for before the procedure were confusing.",
        "Nobody explained what I should do after the visit.",
    ),
    "price_clarity": (
        "Nobody could tell me what the visit would cost before I came in.",
        "The website had no prices and the phone staff did not know either.",
    ),
    "billing_surprise": (
        "I got a bill for ${amount} that I was not expecting after my surgery.",
        "The bill was confusing and insurance was charged the wrong way. Very frustrating.",
        "Surprise bill weeks after the procedure, nobody warned me about the cost.",
    ),
    "portal_trouble": (
        "I could not log into the portal to see my results.",
        "The portal kept saying my password was wrong, I gave up.",
    ),
    "parking": (
        "Parking was impossible, I was late because I could not find a spot.",
        "The parking garage is expensive and far from the entrance.",
    ),
    "staff_courtesy": (
        "The front desk was rude and dismissive.",
        "Staff seemed rushed and did not listen to me.",
    ),
}

POSITIVE: tuple[str, ...] = (
    "The front desk staff were kind and quick.",
    "The doctor explained everything clearly and listened to me.",
    "Booking online was easy and I got an appointment the same week.",
    "Great experience, everyone was friendly and on time.",
    "The nurse called me back within the hour. Thank you!",
    "Clean clinic, short wait, and clear instructions for follow-up.",
    "Very professional team, I felt well cared for.",
)

NEUTRAL: tuple[str, ...] = (
    "The visit was fine.",
    "Average experience, nothing special.",
    "It was okay, the wait was a bit long but the care was good.",
)

TOPICS = tuple(NEGATIVE)

_IDENT = (
    " You can reach me at {phone}.",
    " My name is {name}, please call me.",
    " Email me at {email} about this.",
    " This is {name}, date of birth {dob}.",
)


_INTERPRETER = ("I asked for an interpreter and there was none available.",
                "The forms were hard to understand and nobody offered an interpreter.")


def comment(rnd: random.Random, bad_topics: list[str], *, ident: dict | None = None,
            ident_rate: float = 0.0, lang: str = "en") -> str:
    """A survey/review comment: about the person's worst experiences, or praise when there were none."""
    if bad_topics:
        picked = bad_topics if len(bad_topics) <= 2 else rnd.sample(bad_topics, 2)
        parts = [rnd.choice(_INTERPRETER if t == "language_access" and lang != "es" else NEGATIVE[t])
                 for t in picked]
        if rnd.random() < 0.3:
            parts.append(rnd.choice(NEUTRAL))
    else:
        parts = [rnd.choice(POSITIVE)]
        if rnd.random() < 0.4:
            parts.append(rnd.choice(POSITIVE))
    text = " ".join(parts).format(weeks=rnd.randint(5, 9), amount=rnd.randint(3, 30) * 40)
    if ident and rnd.random() < ident_rate:
        text += rnd.choice(_IDENT).format(**ident)
    return text


_PORTAL_Q = {
    "billing": ("Why was I billed ${amount}? I thought insurance covered this.",
                "I do not understand this statement, can someone explain the charges?"),
    "results": ("Are my test results back yet?", "Can the doctor explain my lab results?"),
    "medication": ("I need a refill of my prescription.", "Should I keep taking my medication before the procedure?"),
    "appointment": ("I need to reschedule my appointment.", "Can I get an earlier appointment?"),
    "portal_trouble": ("The forms page will not load for me.", "I cannot upload my insurance card."),
}
_PORTAL_OUT = {
    "results": "Your test results are available. Please log in to review them.",
    "visit_summary": "Your visit summary and after-visit instructions are ready.",
    "billing": "A new statement is available in the billing section.",
}


def portal_body(rnd: random.Random, topic: str, direction: str, *, ident: dict | None = None,
                ident_rate: float = 0.0) -> str:
    if direction == "clinic_to_patient":
        return _PORTAL_OUT.get(topic, _PORTAL_OUT["visit_summary"])
    text = rnd.choice(_PORTAL_Q.get(topic, _PORTAL_Q["appointment"])).format(amount=rnd.randint(3, 30) * 40)
    if ident and rnd.random() < ident_rate:
        text += rnd.choice(_IDENT).format(**ident)
    return text
