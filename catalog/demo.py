"""Demo content written by the recsite team: accounts and short review texts.

The texts are attached to existing MovieLens ratings whose stars agree with them (a glowing
text goes on a 4-5 star rating), so the 100,000 ratings stay exactly as published.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from catalog.models import Item, Profile, Review

DEMO_SHOPPER = ("demo", "demo-shopper-2026")
DEMO_STAFF = ("staff", "staff-admin-2026")

# (title, year, liked?, text)
REVIEW_TEXTS: list[tuple[str, int, bool, str]] = [
    ("Toy Story", 1995, True, "Funny and warm, with toys that feel like real characters. Great for the whole family."),
    ("Star Wars", 1977, True, "The space adventure that started it all: a farm boy, a princess, a smuggler and a galaxy at war. Still thrilling."),
    ("The Empire Strikes Back", 1980, True, "Darker and better than the first one. The twist near the end is legendary."),
    ("Return of the Jedi", 1983, True, "A satisfying end to the trilogy, even if the forest creatures are a bit much."),
    ("Fargo", 1996, True, "Snowy Minnesota crime story with a pregnant police chief you will love. Darkly funny."),
    ("Pulp Fiction", 1994, True, "Sharp dialogue, stories out of order, and a dance scene everyone remembers."),
    ("The Godfather", 1972, True, "A slow, powerful family saga about the mafia. Brando and Pacino are superb."),
    ("The Silence of the Lambs", 1991, True, "A chilling thriller. Hopkins is terrifying in every scene he is in."),
    ("Schindler's List", 1993, True, "Devastating and important. Hard to watch, impossible to forget."),
    ("Raiders of the Lost Ark", 1981, True, "Pure adventure: whips, snakes, rolling boulders and Nazis. Endlessly rewatchable."),
    ("The Princess Bride", 1987, True, "A fairy tale that is also a comedy. Swordfights, giants and true love. Inconceivable fun."),
    ("Monty Python and the Holy Grail", 1974, True, "Absurd, silly and quotable. Coconuts instead of horses!"),
    ("Twelve Monkeys", 1995, True, "Time travel mystery that keeps you guessing; Bruce Willis and a wild Brad Pitt."),
    ("Braveheart", 1995, True, "Epic battles and big speeches in medieval Scotland. Long but rousing."),
    ("Apollo 13", 1995, True, "Tense true story of a space mission gone wrong and the engineers who saved it."),
    ("The Usual Suspects", 1995, True, "A clever crime puzzle with one of the best endings ever."),
    ("The Shawshank Redemption", 1994, True, "A moving prison drama about hope and friendship."),
    ("Forrest Gump", 1994, True, "Sweet and sentimental journey through American history. Tom Hanks is wonderful."),
    ("The Lion King", 1994, True, "Beautiful animation and songs; a family classic."),
    ("Terminator 2: Judgment Day", 1991, True, "Relentless sci-fi action with groundbreaking effects."),
    ("Jurassic Park", 1993, True, "Dinosaurs brought to life. The kitchen scene with the raptors is still scary."),
    ("Aliens", 1986, True, "Action-packed sequel; Ripley is one of the great heroes of science fiction."),
    ("Alien", 1979, True, "Slow-burning horror in space. Claustrophobic and terrifying."),
    ("Blade Runner", 1982, True, "Moody, rainy future city and a question about what makes us human."),
    ("Casablanca", 1942, True, "Romance and sacrifice in wartime Morocco. Every line is a classic."),
    ("Back to the Future", 1985, True, "Light, clever time-travel comedy with a great soundtrack."),
    ("Men in Black", 1997, True, "Fun sci-fi comedy with aliens hiding among us. Will Smith and Tommy Lee Jones are a great pair."),
    ("The Wizard of Oz", 1939, True, "Magical musical for all ages; the colors still look amazing."),
    ("The Full Monty", 1997, True, "Feel-good British comedy about unemployed steelworkers with a bold plan."),
    ("Good Will Hunting", 1997, True, "A touching drama about a young genius and his therapist."),
    ("Titanic", 1997, True, "Huge romantic epic; the sinking is spectacular."),
    ("Independence Day (ID4)", 1996, False, "Loud alien invasion blockbuster. Fun effects, silly story."),
    ("Scream", 1996, True, "A horror movie that knows all the rules of horror movies. Scary and witty."),
    ("Liar Liar", 1997, False, "Jim Carrey shouting for ninety minutes. A few laughs, mostly tiring."),
    ("The English Patient", 1996, False, "Beautifully shot but very slow; I nearly fell asleep in the desert."),
    ("Air Force One", 1997, True, "Harrison Ford as a president fighting hijackers. Silly but exciting."),
    ("Contact", 1997, True, "Thoughtful science fiction about first contact and faith. Jodie Foster is excellent."),
]


@transaction.atomic
def seed_demo() -> dict[str, int]:
    """Create the demo accounts and attach the review texts; idempotent."""
    User = get_user_model()
    made = {"accounts": 0, "review_texts": 0}
    for (username, password), staff in ((DEMO_SHOPPER, False), (DEMO_STAFF, True)):
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": staff, "is_superuser": staff, "email": f"{username}@example.com"}
        )
        if created:
            user.set_password(password)
            user.save()
            made["accounts"] += 1
        Profile.objects.get_or_create(
            user=user, defaults={"interests": "space adventures, clever comedies" if not staff else ""}
        )
    for title, year, liked, text in REVIEW_TEXTS:
        item = Item.objects.filter(title=title, year=year, external_id__startswith="ml:").first()
        if item is None or Review.objects.filter(item=item, text=text).exists():
            continue
        candidates = Review.objects.filter(item=item, text="", user__username__startswith="ml_")
        review = (candidates.filter(rating__gte=4) if liked else candidates.filter(rating__lte=2)).order_by(
            "user_id"
        ).first() or candidates.order_by("user_id").first()
        if review is not None:
            review.text = text
            review.save(update_fields=["text", "updated_at"])
            made["review_texts"] += 1
    return made
