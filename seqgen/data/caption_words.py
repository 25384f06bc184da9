"""The caption language itself: its word lists and the phrase-structure grammar over them.

`sentence()` returns the grammar as an expression of `seqgen.data.caption_language`'s combinators (`seq`,
`alt`, `opt`, `words`); `caption_language()` compiles it into the automaton. The weights are fixed here, so
the language is the same everywhere. Conventions of the word lists:
- a word list is one string of space-separated entries; "_" joins a multi-word entry ("hot_dog" is the two
  tokens "hot dog");
- nouns are "singular:plural" entries ("man:men", "sheep:sheep");
- "a/an" is the indefinite article, resolved by the compiler from the word that follows.
Agreement is built into the structure: every clause is written once for a singular and once for a plural
subject ("a man is riding" / "two men are riding", "there is" / "there are", "rides" / "ride"), and each verb
frame lists the objects and places that fit it. No sentence is longer than 20 tokens because the long parts
(two-word subjects with a modifier, wrappers such as "a picture of") are kept out of each other's way; the
compiler checks the bound.
"""

from typing import NamedTuple

from seqgen.data.grammar import Expr, alt, opt, phrase, seq, words

# ============================================================================================================
# Word lists
# ============================================================================================================

# --- people -------------------------------------------------------------------------------------------------
ADULTS = "man:men woman:women person:people guy:guys lady:ladies"
CHILDREN = "boy:boys girl:girls child:children kid:kids"
ADULT_ADJ = "young old elderly smiling tall happy"
CHILD_ADJ = "young little small smiling happy cute"
PEOPLE_NUMBERS = "two three four several"
PEOPLE_GROUPS = "a_group_of a_couple_of a_crowd_of"
ATHLETE_ADJ = "young professional"

# --- animals ------------------------------------------------------------------------------------------------
PETS = "dog:dogs cat:cats puppy:puppies kitten:kittens"
PET_ADJ = "small little large brown black white gray orange fluffy black_and_white"
GRAZERS = "cow:cows sheep:sheep horse:horses goat:goats"
FARM_ANIMAL_ADJ = "large small young baby brown black white"
WILD = "elephant:elephants giraffe:giraffes zebra:zebras"
WILD_ADJ = "large small young adult baby big tall"
BEARS = "bear:bears polar_bear:polar_bears"
BEAR_ADJ = "large small young adult baby big brown black"
BIRDS = "bird:birds pigeon:pigeons"
WATER_BIRDS = "duck:ducks seagull:seagulls"
BIRD_ADJ = "small little white black large gray"

# --- vehicles -----------------------------------------------------------------------------------------------
ROAD_VEHICLES = (
    "car:cars truck:trucks bus:buses van:vans taxi:taxis motorcycle:motorcycles fire_truck:fire_trucks "
    "double_decker_bus:double_decker_buses"
)
TRAINS = "train:trains passenger_train:passenger_trains"
PLANES = "airplane:airplanes plane:planes jet:jets"
BOATS = "boat:boats sailboat:sailboats ship:ships"
COLORS = "red white black blue yellow green orange gray brown"
VEHICLE_ADJ = COLORS + " large small old red_and_white"

# --- food ---------------------------------------------------------------------------------------------------
PIZZA = "pizza:pizzas"
SWEETS = "cake:cakes donut:donuts cupcake:cupcakes"
MEALS = "sandwich:sandwiches hot_dog:hot_dogs hamburger:hamburgers"
FRUIT = "banana:bananas apple:apples orange:oranges"
FOOD_ADJ = "large small fresh big"
TOPPINGS = "cheese tomatoes pepperoni olives onions"
COVERINGS = "frosting chocolate sprinkles sugar"
SIDES = "fries a_salad vegetables cheese onions tomatoes"
DRINKS = "a_cup_of_coffee a_glass_of_wine a_glass_of_water coffee water"

# --- things people hold, use and wear -----------------------------------------------------------------------
HOLDABLES = (
    "umbrella kite frisbee surfboard skateboard tennis_racket baseball_bat ball cell_phone phone laptop book "
    "bag suitcase camera remote teddy_bear sign"
)
CLOTHES = "hat helmet tie suit jacket shirt uniform backpack"
CLOTHES_PLURAL = "sunglasses"
READING = "book newspaper menu"
SCREENS = "laptop computer cell_phone phone"

# --- rooms and the street -----------------------------------------------------------------------------------
ROOM_ADJ = "small large clean white old empty"
KITCHEN_THINGS = "stove oven refrigerator sink microwave counter table window"
BATHROOM_THINGS = "toilet sink bathtub shower mirror window"
LIVING_ROOM_THINGS = "couch television fireplace coffee_table chair lamp window"
BEDROOM_THINGS = "bed desk lamp window chair television"
OFFICE_THINGS = "desk computer laptop chair window lamp"
THING_ADJ = "white large small black"
STREET_FIXTURES = "stop_sign street_sign fire_hydrant traffic_light parking_meter bench"
STREET_FIXTURE_ADJ = "red yellow old large small"
LANDMARKS = "clock_tower statue clock"
LANDMARK_ADJ = "tall large old"

# --- verbs --------------------------------------------------------------------------------------------------
# "base:third_person:participle": used in every clause shape, the simple present included ("rides"/"ride").
VERBS = (
    "ride:rides:riding hold:holds:holding eat:eats:eating play:plays:playing sit:sits:sitting "
    "stand:stands:standing walk:walks:walking look:looks:looking fly:flies:flying wear:wears:wearing "
    "carry:carries:carrying watch:watches:watching read:reads:reading drink:drinks:drinking "
    "swim:swims:swimming lay:lays:laying sleep:sleeps:sleeping graze:grazes:grazing"
)
# "base:participle": only "a man throwing ..." and "a man is throwing ...". COCO captions say "laying".
PARTICIPLES = (
    "throw:throwing cut:cutting talk:talking use:using pet:petting feed:feeding wait:waiting take:taking "
    "pose:posing cross:crossing ski:skiing snowboard:snowboarding surf:surfing swing:swinging hit:hitting "
    "prepare:preparing cook:cooking make:making do:doing jump:jumping chase:chasing catch:catching "
    "perch:perched drive:driving travel:traveling park:parked pull:pulling float:floating dock:docked "
    "sail:sailing land:landing serve:serving"
)

# ============================================================================================================
# Grammar helpers
# ============================================================================================================


def _nouns(spec: str, number: str) -> list[str]:
    """The singular or plural forms of a "sg:pl" noun list."""
    return [entry.split(":")[0 if number == "sg" else 1] for entry in spec.split()]


_FORMS = {
    e.split(":")[0]: {"base": e.split(":")[0], "s": e.split(":")[1], "ing": e.split(":")[2]}
    for e in VERBS.split()
}
_FORMS |= {e.split(":")[0]: {"ing": e.split(":")[1]} for e in PARTICIPLES.split()}


def _det(spec: str) -> Expr:
    """A choice of determiners from "a/an|the" (the first listed twice as likely as each other one)."""
    dets = spec.split("|")
    return alt(*[(2.0 if i == 0 else 1.0, d) for i, d in enumerate(dets)])


def _np(det: str, nouns: str | list[str], adjs: str = "", p_adj: float = 0.3) -> Expr:
    """Determiner, optional adjective, noun: _np("a/an|the", "bench couch", "wooden large")."""
    if not adjs:
        return seq(_det(det), words(nouns))
    return seq(_det(det), opt(words(adjs), p_adj), words(nouns))


def _pp(*items: str | tuple[str, ...]) -> Expr:
    """A uniform choice of prepositional phrases: fixed strings, or (prep, det, nouns[, adjs]) tuples."""
    options: list[str | Expr] = []
    for item in items:
        if isinstance(item, str):
            options.append(item)
        else:
            prep, det, nouns, *adjs = item
            options.append(seq(prep, _np(det, nouns, adjs[0] if adjs else "")))
    return alt(*options)


def _pairs(entries: str, p_pair: float = 0.5) -> Expr:
    """One entry, or two different ones joined by "and" in list order ("cheese and tomatoes", never
    "cheese and cheese"); entries are a word list."""
    items = [phrase(e) for e in entries.split()]
    pairs = [seq(a, "and", b) for i, a in enumerate(items) for b in items[i + 1 :]]
    return alt((1 - p_pair, alt(*items)), (p_pair, alt(*pairs)))


class F(NamedTuple):
    """A verb frame: the verb (None for a fixed participle phrase), what follows it, where it may appear.

    forms: "frag" ("a man riding ...", also after "there is" and "a picture of"), "be" ("a man is
    riding ..."), "present" ("a man rides ..."; only for verbs of VERBS).
    """

    weight: float
    verb: str | None
    rest: Expr | str
    forms: str = "frag be present"


def _vp(frames: list[F], form: str, number: str) -> Expr:
    options = []
    for f in frames:
        if form not in f.forms.split():
            continue
        if f.verb is None:
            options.append((f.weight, f.rest))
            continue
        key = "ing" if form != "present" else ("s" if number == "sg" else "base")
        if key in _FORMS[f.verb]:
            options.append((f.weight, seq(_FORMS[f.verb][key], f.rest)))
    return alt(*options)


class Subjects(NamedTuple):
    """Subject noun phrases: `sg`/`pl` where the sentence has room, `short_sg`/`short_pl` (indefinite, no
    modifiers or collectives) after "there is" and "a picture of"."""

    sg: Expr
    pl: Expr
    short_sg: Expr
    short_pl: Expr


def _subjects(
    groups: list[tuple[float, str, str]], numbers: str, collectives: str = "", p_adj: float = 0.3
) -> Subjects:
    """Subjects for groups of (weight, "sg:pl" nouns, adjectives): "a/the [adj] noun", "two [adj] nouns",
    "a group of nouns"."""
    sg = alt(*[(w, _np("a/an|the", _nouns(n, "sg"), a, p_adj)) for w, n, a in groups])
    indefinite = alt(*[(w, _np("a/an", _nouns(n, "sg"), a, p_adj)) for w, n, a in groups])
    counted = alt(
        *[(w, seq(words(numbers), opt(words(a), p_adj), words(_nouns(n, "pl")))) for w, n, a in groups]
    )
    if not collectives:
        return Subjects(sg, counted, indefinite, counted)
    grouped = alt(*[(w, seq(words(collectives), words(_nouns(n, "pl")))) for w, n, _ in groups])
    return Subjects(sg, alt((0.75, counted), (0.25, grouped)), indefinite, counted)


_WRAPPERS = words(["a picture of", "a close up of", "a photo of", "an image of", "a view of"])


def _clause(subjects: Subjects, frames: list[F], p_plural: float = 0.3) -> Expr:
    """Subject and predicate in every clause shape, singular and plural kept apart so that they agree."""

    def shapes(number: str) -> Expr:
        sg = number == "sg"
        long, short = (subjects.sg, subjects.short_sg) if sg else (subjects.pl, subjects.short_pl)
        frag = _vp(frames, "frag", number)
        return alt(
            (0.42, seq(long, frag)),
            (0.28, seq(long, "is" if sg else "are", _vp(frames, "be", number))),
            (0.12, seq(long, _vp(frames, "present", number))),
            (0.10, seq("there is" if sg else "there are", short, frag)),
            (0.08, seq(_WRAPPERS, short, frag)),
        )

    if p_plural == 0:
        return shapes("sg")
    return alt((1 - p_plural, shapes("sg")), (p_plural, shapes("pl")))


# ============================================================================================================
# People
# ============================================================================================================

_OUTSIDE = _pp(
    ("on", "the|a/an", "beach", "sandy"),
    ("in", "a/an|the", "field park", "grassy large"),
    ("on", "a/an|the", "sidewalk street", "busy city"),
    ("in front of", "a/an", "building store house"),
    ("next to", "a/an", "fence tree building", "large wooden"),
    ("near", "the", "water ocean lake"),
    ("in", "the", "snow grass rain"),
    ("under", "a/an", "tree umbrella", "large"),
)
_INSIDE = _pp(
    ("in", "a/an|the", "kitchen living_room restaurant room office", "small large"),
    ("at", "a/an", "table desk counter", "wooden small"),
    ("on", "a/an", "couch bed", "large"),
    ("in front of", "a/an", "television computer window"),
)
_ANYWHERE = alt(_OUTSIDE, _INSIDE)
_SIT = _pp(
    ("on", "a/an", "bench", "wooden park"),
    ("on", "a/an", "couch bed chair", "large"),
    ("at", "a/an", "table desk", "wooden"),
    ("on", "the", "grass beach ground floor"),
    ("on top of", "a/an", "car rock"),
    ("in", "a/an", "chair", "wooden"),
)
_WALK = _pp(
    ("down", "a/an|the", "street sidewalk road", "busy city dirt"),
    ("on", "the", "beach"),
    ("across", "a/an|the", "street", "busy"),
    ("across", "a/an", "field", "grassy"),
    ("through", "a/an|the", "park field", "grassy"),
    ("in", "the", "rain snow"),
)
_EAT_AT = _pp(
    ("at", "a/an", "table restaurant", "wooden small"),
    ("in", "a/an|the", "kitchen restaurant park"),
    ("on", "a/an", "bench couch", "park"),
)
_KITE_AT = _pp(("on", "the", "beach"), ("in", "a/an", "field park", "grassy open"), "in the sky")
_SNOW = _pp(
    ("down", "a/an|the", "hill slope mountain", "snowy snow_covered"),
    ("on", "a/an", "slope", "snowy"),
    ("across", "a/an", "field", "snowy"),
    ("through", "the", "snow trees"),
)
_SNOW_SPOT = _pp(("on", "a/an|the", "slope hill", "snowy"), ("in", "the", "snow"), "on skis in the snow")
_WATER = _pp(("in", "the", "ocean water"), ("on", "a/an", "surfboard", COLORS), ("at", "the", "beach"))
_KITCHEN = _pp(("in", "a/an|the", "kitchen restaurant", "small large"), ("on", "a/an", "counter", "kitchen"))
_COURT = _pp(("on", "a/an", "tennis_court court", "grass"), ("during", "a/an", "match game", "tennis"))
_BALLFIELD = _pp(("on", "a/an", "field", "baseball"), ("during", "a/an", "game", "baseball"), "at home plate")
_PLAY = _pp(("in", "a/an|the", "park field", "grassy"), ("on", "the", "beach grass"))
_FEED_AT = _pp(
    ("at", "the", "zoo"), ("in", "a/an", "park field", "grassy"), ("next to", "a/an", "fence", "wooden")
)

_HOLD = _np("a/an", HOLDABLES, "large small red white black", 0.2)
_FOOD_ONE = alt(
    _np("a/an", "sandwich hot_dog hamburger donut banana apple orange pizza", FOOD_ADJ, 0.25),
    words(["a slice of pizza", "a piece of cake", "a bowl of soup", "a plate of food", "some food", "lunch"]),
)
_ANIMAL_OBJ = _np("a/an", "dog cat horse elephant giraffe", "small large brown", 0.25)
_LOOK_AT = alt(_np("a/an", "phone cell_phone laptop book menu"), "the camera", "the ocean", _ANIMAL_OBJ)
_CLOTHING = alt((3, _np("a/an", CLOTHES, COLORS, 0.4)), words(CLOTHES_PLURAL), "a suit and tie")
_WITH_THING = seq("with", _np("a/an", "umbrella dog bag suitcase", "red black large"))

_PERSON_FRAMES = [
    F(4, "ride", seq(_np("a/an", "horse elephant", "brown white black large"), opt(_WALK, 0.6))),
    F(3, "ride", seq(_np("a/an", "bike motorcycle", "red blue black"), opt(_WALK, 0.6))),
    F(1, "ride", seq(words(["a surfboard", "a wave"]), opt(_WATER, 0.5))),
    F(1, "ride", seq("a skateboard", opt(_WALK, 0.5))),
    F(7, "hold", seq(_HOLD, opt(_ANYWHERE, 0.5))),
    F(4, "eat", seq(_FOOD_ONE, opt(_EAT_AT, 0.5))),
    F(2, "play", seq(words(["tennis", "a game of tennis"]), opt(_COURT, 0.5))),
    F(2, "play", seq(words("baseball soccer frisbee"), opt(_PLAY, 0.6))),
    F(2, "play", seq(words(["video games", "a video game"]), opt(_INSIDE, 0.5))),
    F(
        2,
        "play",
        seq(
            "with", _np("a/an", "dog puppy cat kite frisbee", "small brown black white red"), opt(_PLAY, 0.5)
        ),
    ),
    F(3, "fly", seq(_np("a/an", "kite", COLORS), opt(_KITE_AT, 0.6))),
    F(2, "throw", seq(words(["a frisbee", "a ball", "a baseball"]), opt(_PLAY, 0.6))),
    F(6, "sit", _SIT),
    F(6, "stand", _ANYWHERE),
    F(5, "walk", seq(_WALK, opt(_WITH_THING, 0.3))),
    F(2, "walk", seq(_np("a/an", "dog", "small large brown"), opt(_WALK, 0.6))),
    F(3, "look", seq("at", _LOOK_AT, opt(_ANYWHERE, 0.3))),
    F(
        2,
        "cut",
        seq(
            alt(_np("a/an", "cake", "large chocolate"), "a pizza", "a sandwich", "vegetables"),
            opt(alt(_KITCHEN, "with a knife"), 0.5),
        ),
    ),
    F(2, "talk", seq("on a", opt("cell", 0.5), "phone", opt(_ANYWHERE, 0.5))),
    F(2, "use", seq(_np("a/an", SCREENS), opt(_INSIDE, 0.5))),
    F(
        2,
        "carry",
        seq(_np("a/an", "surfboard bag suitcase umbrella skateboard backpack", COLORS), opt(_OUTSIDE, 0.5)),
    ),
    F(3, "wear", seq(_CLOTHING, opt(_ANYWHERE, 0.4))),
    F(2, "pet", seq(_ANIMAL_OBJ, opt(_OUTSIDE, 0.3))),
    F(
        2,
        "feed",
        seq(
            alt(_np("a/an", "giraffe elephant horse", "large baby"), "the ducks", "the birds"),
            opt(_FEED_AT, 0.4),
        ),
    ),
    F(
        2,
        "wait",
        seq(
            "for",
            _np("a/an|the", "bus train taxi"),
            opt(_pp(("at", "a/an|the", "bus_stop train_station")), 0.5),
        ),
    ),
    F(1, "take", seq(words(["a selfie", "a picture"]), opt(_OUTSIDE, 0.4))),
    F(1, "take", seq("a picture of", _np("a/an", "building dog giraffe elephant", "large"))),
    F(
        2,
        "pose",
        seq(
            alt(
                "for a picture",
                "for a photo",
                seq("with", _np("a/an", "surfboard skateboard dog cake", "large")),
            ),
            opt(_ANYWHERE, 0.4),
        ),
    ),
    F(1, "watch", seq(words(["television", "a baseball game", "a tennis match"]), opt(_INSIDE, 0.4))),
    F(1.5, "read", seq(_np("a/an", READING, "large old", 0.2), opt(_SIT, 0.5))),
    F(1.5, "drink", seq(words(DRINKS), opt(_ANYWHERE, 0.4))),
    F(
        1,
        "cross",
        seq(alt(_np("a/an|the", "street road", "busy"), "an intersection"), opt("with an umbrella", 0.2)),
    ),
    F(1.5, "prepare", seq(words(["food", "a meal", "dinner", "a pizza"]), opt(_KITCHEN, 0.6))),
    F(1, "ski", _SNOW),
    F(1, "surf", words(["in the ocean", "on a wave", "a large wave"])),
]


def _snow_frames(verb: str) -> list[F]:
    return [
        F(4, verb, _SNOW),
        F(2, "stand", _SNOW_SPOT),
        F(1, "ride", seq("a ski lift", opt("up a mountain", 0.5))),
        F(1, "pose", seq("for a picture", opt(_SNOW_SPOT, 0.5))),
    ]


_SURFER_FRAMES = [
    F(4, "ride", seq(_np("a/an", "wave", "large big small"), opt(_WATER, 0.6))),
    F(3, "surf", alt(seq(_np("a/an", "wave", "large big"), opt(_WATER, 0.4)), "in the ocean", "on a wave")),
    F(
        2,
        "carry",
        seq(
            _np("a/an", "surfboard", COLORS),
            opt(_pp(("on", "the", "beach"), ("into", "the", "water ocean")), 0.6),
        ),
    ),
    F(1, "stand", _pp(("on", "the", "beach"), ("on", "a/an", "surfboard", COLORS), ("in", "the", "water"))),
]
_SKATE_AT = _pp(("on", "a/an", "skateboard ramp"), ("in", "the", "air"), ("at", "a/an", "skate_park"))
_SKATER_FRAMES = [
    F(4, "ride", seq(_np("a/an", "skateboard", COLORS), opt(alt(_WALK, "at a skate park"), 0.6))),
    F(3, "do", seq(_np("a/an", "trick jump", "skateboard"), opt(_SKATE_AT, 0.6))),
    F(2, "jump", _pp(("over", "a/an", "ramp bench"), ("in", "the", "air"), ("off", "a/an", "ramp"))),
]
_TENNIS_FRAMES = [
    F(
        3,
        "swing",
        seq(_np("a/an", "racket tennis_racket"), opt(alt("at a ball", "at the ball", _COURT), 0.6)),
    ),
    F(3, "hit", seq(words(["a tennis ball", "a ball", "the ball"]), opt(alt("with a racket", _COURT), 0.6))),
    F(2, "serve", seq(words(["a ball", "the ball", "a tennis ball"]), opt(_COURT, 0.5))),
    F(2, "play", seq("tennis", opt(_COURT, 0.6))),
    F(2, "hold", seq(_np("a/an", "racket tennis_racket"), opt(_COURT, 0.5))),
]
_BASEBALL_FRAMES = [
    F(3, "swing", seq(words(["a bat", "a baseball bat", "at a ball", "at a pitch"]), opt(_BALLFIELD, 0.5))),
    F(
        3,
        "throw",
        seq(words(["a ball", "a baseball", "a pitch"]), opt(alt("from the mound", _BALLFIELD), 0.5)),
    ),
    F(2, "catch", seq(words(["a ball", "a baseball", "the ball"]), opt(_BALLFIELD, 0.5))),
    F(2, "wait", seq("for", words(["a pitch", "the pitch", "the ball"]), opt(_BALLFIELD, 0.5))),
    F(2, "hold", seq(words(["a bat", "a baseball bat"]), opt(_BALLFIELD, 0.5))),
]
_COOK_FRAMES = [
    F(3, "prepare", seq(words(["food", "a meal", "dinner", "a pizza", "some food"]), opt(_KITCHEN, 0.6))),
    F(2, "cook", seq(words(["food", "dinner", "some food", "a meal"]), opt(_KITCHEN, 0.6))),
    F(2, "make", seq(words(["a pizza", "a sandwich", "a cake", "pizzas"]), opt(_KITCHEN, 0.6))),
    F(
        2,
        "cut",
        seq(
            words(["vegetables", "a pizza", "a cake", "some onions"]),
            opt(alt(_KITCHEN, "on a cutting board"), 0.6),
        ),
    ),
    F(2, "stand", _KITCHEN),
]


def _people() -> Expr:
    plain = _subjects([(3, ADULTS, ADULT_ADJ), (2, CHILDREN, CHILD_ADJ)], PEOPLE_NUMBERS, PEOPLE_GROUPS)
    dressed = seq(plain.sg, "in a/an", opt(words(COLORS), 0.4), words("suit uniform jacket hat wetsuit"))
    couple = seq(_np("a/an", "man woman", ADULT_ADJ, 0.2), "and", _np("a/an", "boy girl child", CHILD_ADJ))
    people = plain._replace(
        sg=alt((0.88, plain.sg), (0.12, dressed)), pl=alt((0.85, plain.pl), (0.15, couple))
    )

    def role(nouns: str, frames: list[F], weight: float) -> tuple[float, Expr]:
        return weight, _clause(_subjects([(1, nouns, ATHLETE_ADJ)], PEOPLE_NUMBERS, p_adj=0.15), frames)

    return alt(
        (0.62, _clause(people, _PERSON_FRAMES)),
        role("skier:skiers", _snow_frames("ski"), 0.05),
        role("snowboarder:snowboarders", _snow_frames("snowboard"), 0.03),
        role("surfer:surfers", _SURFER_FRAMES, 0.06),
        role("skateboarder:skateboarders skater:skaters", _SKATER_FRAMES, 0.06),
        role("tennis_player:tennis_players", _TENNIS_FRAMES, 0.07),
        role("baseball_player:baseball_players batter:batters", _BASEBALL_FRAMES, 0.07),
        role("chef:chefs cook:cooks", _COOK_FRAMES, 0.04),
    )


# ============================================================================================================
# Animals
# ============================================================================================================

_FIELD = _pp(
    ("in", "a/an|the", "field pasture", "grassy green large open"),
    ("on", "a/an", "hillside hill", "grassy"),
    ("on", "the", "grass"),
    ("next to", "a/an", "fence tree", "wooden large"),
)
_ZOO = _pp(
    ("in", "a/an|the", "enclosure field", "grassy large"),
    ("at", "the", "zoo"),
    ("next to", "a/an", "tree fence rock", "large tall"),
    ("in", "the", "dirt grass water"),
)
_PET_REST = _pp(
    ("on", "a/an", "bed couch chair blanket", "large white"),
    ("on", "the", "floor grass"),
    ("in front of", "a/an", "window television"),
    ("next to", "a/an", "laptop window", "open"),
    ("inside", "a/an", "suitcase box", "open"),
)
_PET_FRAMES = [
    F(4, "sit", alt(_PET_REST, "on top of a car", "in the back of a truck")),
    F(4, "lay", _PET_REST),
    F(2, "sleep", _PET_REST),
    F(3, "play", seq("with", _np("a/an", "frisbee ball toy teddy_bear", "red small"), opt(_PLAY, 0.5))),
    F(2, "chase", seq(words(["a ball", "a frisbee", "a cat", "a bird"]), opt(_PLAY, 0.5))),
    F(2, "catch", seq("a frisbee", opt(alt("in the air", _PLAY), 0.6))),
    F(2, "look", alt("out a window", "at the camera", seq("out of", _np("a/an", "window car")))),
    F(2, "walk", _WALK),
    F(1, "eat", seq(words(["food", "dog food"]), opt("from a bowl", 0.4))),
    F(1, "ride", words(["in a car", "in the back of a truck", "on a skateboard", "on a surfboard"])),
]
_GRAZER_FRAMES = [
    F(4, "graze", _FIELD),
    F(3, "eat", seq(words("grass hay"), opt(_FIELD, 0.6))),
    F(3, "stand", _FIELD),
    F(2, "lay", _FIELD),
    F(
        2,
        "walk",
        alt(_pp(("down", "a/an", "road", "dirt"), ("across", "a/an", "field", "grassy")), "along the beach"),
    ),
]
_WILD_FRAMES = [
    F(4, "stand", _ZOO),
    F(3, "walk", alt(_ZOO, _pp(("through", "the", "grass water trees")), "across a field")),
    F(2, "eat", seq(words("grass leaves hay"), opt(alt(_ZOO, "from a tree"), 0.5))),
    F(1, "drink", seq("water", opt(words(["from a river", "from a pond", "from a lake"]), 0.6))),
    F(1, "graze", _FIELD),
    F(1, "lay", _ZOO),
]
_BEAR_FRAMES = [
    F(3, "stand", _ZOO),
    F(3, "walk", alt(_ZOO, _pp(("through", "the", "grass water trees")))),
    F(2, "sit", _pp(("in", "the", "grass water dirt"), ("on", "a/an", "rock", "large"))),
    F(2, "lay", _pp(("in", "the", "grass dirt"), ("on", "a/an", "rock", "large"))),
    F(2, "swim", words(["in the water", "in a pond", "in a river"])),
]
_FLY = words(["in the sky", "over the water", "over the ocean", "above the trees", "through the air"])
_BIRD_FRAMES = [
    F(3, "perch", _pp(("on", "a/an", "branch fence rock pole", "tree wooden"), "on top of a pole")),
    F(3, "fly", _FLY),
    F(3, "stand", _pp(("on", "a/an|the", "rock sidewalk fence", "large"), ("in", "the", "grass"))),
    F(2, "sit", _pp(("on", "a/an", "branch fence bench", "tree wooden park"), "on top of a car")),
    F(1, "eat", seq(words("bread food"), opt("on the ground", 0.5))),
]
_WATER_BIRD_FRAMES = [
    F(3, "swim", alt(_pp(("in", "a/an|the", "pond lake river", "small")), "in the water")),
    F(2, "fly", _FLY),
    F(3, "stand", _pp(("on", "the|a/an", "beach", "sandy"), ("on", "a/an", "rock", "large"), "in the water")),
    F(1, "eat", seq(words("bread food"), opt("on the ground", 0.5))),
]


def _animals() -> Expr:
    groups = [
        (0.40, PETS, PET_ADJ, _PET_FRAMES, "a_couple_of a_pair_of"),
        (0.25, GRAZERS, FARM_ANIMAL_ADJ, _GRAZER_FRAMES, "a_herd_of"),
        (0.16, WILD, WILD_ADJ, _WILD_FRAMES, "a_herd_of a_pair_of"),
        (0.05, BEARS, BEAR_ADJ, _BEAR_FRAMES, "a_pair_of"),
        (0.08, BIRDS, BIRD_ADJ, _BIRD_FRAMES, "a_flock_of a_pair_of"),
        (0.06, WATER_BIRDS, BIRD_ADJ, _WATER_BIRD_FRAMES, "a_flock_of a_pair_of"),
    ]
    return alt(*[(w, _clause(_subjects([(1, n, a)], "two three several", c), f)) for w, n, a, f, c in groups])


# ============================================================================================================
# Vehicles
# ============================================================================================================

_PARKED_AT = _pp(
    ("on the side of", "a/an|the", "road street"),
    ("in", "a/an", "parking_lot"),
    ("next to", "a/an", "building sidewalk fire_hydrant"),
    ("in front of", "a/an", "building house store"),
)
_ROAD_FRAMES = [
    F(4, "park", _PARKED_AT, "frag be"),
    F(
        4,
        "drive",
        alt(
            _pp(("down", "a/an|the", "street road highway", "busy city dirt")),
            "through an intersection",
            "across a bridge",
        ),
    ),
    F(
        2,
        "travel",
        _pp(("down", "a/an|the", "road street highway", "busy"), ("through", "a/an", "city")),
    ),
    F(2, "wait", words(["at a red light", "at a bus stop", "at an intersection", "in traffic"])),
    F(2, "sit", words(["in traffic", "in a parking lot", "on the side of the road"])),
    F(1, "pull", seq(_np("a/an", "trailer boat car"), opt("down the road", 0.5))),
]
_TRAIN_FRAMES = [
    F(
        4,
        "travel",
        alt(
            _pp(("down", "the", "tracks"), ("along", "the", "tracks river")),
            "through the countryside",
            "over a bridge",
            "through a city",
        ),
    ),
    F(3, "pull", words(["into a station", "into the station", "into a train station", "out of a station"])),
    F(
        2,
        "sit",
        words(["on the tracks", "at a station", "at the station", "at a platform", "at a train station"]),
    ),
    F(2, "wait", words(["at a station", "at the platform", "at a train station"])),
    F(1, "park", words(["at a station", "on the tracks"]), "frag be"),
]
_PLANE_FRAMES = [
    F(
        4,
        "fly",
        words(["in the sky", "through the sky", "over a city", "above the clouds", "over the ocean"]),
    ),
    F(2, "sit", words(["on the runway", "on the tarmac", "at an airport"])),
    F(2, "park", words(["at an airport", "on the tarmac"]), "frag be"),
    F(1, "land", words(["on a runway", "at an airport"])),
    F(1, "take", "off from a runway"),
]
_BOAT_FRAMES = [
    F(
        4,
        "float",
        words(["in the water", "on a lake", "in a harbor", "on a river", "in the ocean"]),
    ),
    F(2, "dock", words(["at a pier", "in a harbor", "at a marina", "next to a dock"]), "frag be"),
    F(2, "sail", words(["on the ocean", "across a lake", "on the water", "down a river", "in the bay"])),
    F(1, "sit", words(["in the water", "on the beach", "on a lake"])),
]


def _vehicles() -> Expr:
    groups = [
        (0.50, ROAD_VEHICLES, _ROAD_FRAMES, "a_line_of"),
        (0.20, TRAINS, _TRAIN_FRAMES, ""),
        (0.15, PLANES, _PLANE_FRAMES, ""),
        (0.15, BOATS, _BOAT_FRAMES, ""),
    ]
    return alt(
        *[
            (w, _clause(_subjects([(1, n, VEHICLE_ADJ)], "two three several", c, 0.35), f, 0.2))
            for w, n, f, c in groups
        ]
    )


# ============================================================================================================
# Food, rooms, streets
# ============================================================================================================

_ON_A_PLATE = _pp(
    ("on", "a/an", "plate napkin", "white"),
    ("in", "a/an", "box bowl", "white"),
)
_ON_A_TABLE = _pp(
    ("on", "a/an", "table counter", "white"),
    ("on", "a/an", "cutting_board", "wooden"),
    ("on top of", "a/an", "table", "wooden"),
    "next to a cup of coffee",
)


def _food_frames(kind: str, place: Expr, served: bool) -> list[F]:
    """What a food can be said to do. `place` is where it can sit (a plate of food is not "on a plate"), and
    a serving ("a plate of fries") is not "cut into slices"."""
    frames = [F(5, "sit", place), F(3, None, place, "frag")]
    if not served:
        cut = "cut in half" if kind == "meals" else "cut into slices"
        frames.append(F(1, None, seq(cut, opt(place, 0.4)), "frag be"))
    if kind == "pizza":
        frames += [
            F(3, None, seq("topped with", _pairs(TOPPINGS)), "frag be"),
            F(2, None, seq("with", _pairs(TOPPINGS), opt(place, 0.4)), "frag"),
        ]
    elif kind == "sweets":
        frames += [
            F(3, None, seq("covered in", _pairs(COVERINGS, 0.3)), "frag be"),
            F(1, None, seq("with", _pairs(COVERINGS, 0.3), opt(place, 0.4)), "frag"),
        ]
    elif kind == "meals":
        frames.append(F(3, None, seq("with", _pairs(SIDES), opt(place, 0.4)), "frag"))
    return frames


def _food_kind(kind: str, nouns: str, servings: list[str], weight: float) -> tuple[float, Expr]:
    """A kind of food: "a pizza" / "two pizzas" anywhere, and its servings ("a slice of pizza", "a plate of
    fries"), which are singular and sit on tables, not on plates."""
    items = _subjects([(1, nouns, FOOD_ADJ)], "two three several some", p_adj=0.3)
    served = words(servings)
    served_subjects = Subjects(served, served, served, served)
    everywhere = alt(_ON_A_PLATE, _ON_A_TABLE)
    return weight, alt(
        (0.6, _clause(items, _food_frames(kind, everywhere, served=False), 0.35)),
        (0.4, _clause(served_subjects, _food_frames(kind, _ON_A_TABLE, served=True), 0.0)),
    )


def _food() -> Expr:
    return alt(
        _food_kind("pizza", PIZZA, ["a slice of pizza", "a piece of pizza", "a box of pizza"], 0.3),
        _food_kind("sweets", SWEETS, ["a piece of cake", "a box of donuts", "a plate of donuts"], 0.25),
        _food_kind(
            "meals", MEALS, ["a plate of food", "a plate of fries", "a plate of pasta", "a bowl of soup"], 0.3
        ),
        _food_kind("fruit", FRUIT, ["a bunch of bananas", "a bowl of fruit", "a plate of fruit"], 0.15),
    )


def _room(rooms: str, things: str) -> Expr:
    return seq(
        _np("a/an|the", rooms, ROOM_ADJ, 0.4),
        alt((4, "with"), (1, "that has")),
        _pairs_of_nps(things),
    )


def _pairs_of_nps(things: str) -> Expr:
    """ "a stove", or "a stove and a white sink" (different things, in list order)."""
    items = [_np("a/an", [t], THING_ADJ, 0.2) for t in things.split()]
    pairs = [seq(a, "and", b) for i, a in enumerate(items) for b in items[i + 1 :]]
    return alt((0.4, alt(*items)), (0.6, alt(*pairs)))


def _rooms() -> Expr:
    return alt(
        (3, _room("kitchen", KITCHEN_THINGS)),
        (3, _room("bathroom", BATHROOM_THINGS)),
        (2, _room("living_room", LIVING_ROOM_THINGS)),
        (2, _room("bedroom", BEDROOM_THINGS)),
        (1, _room("office", OFFICE_THINGS)),
    )


def _streets() -> Expr:
    fixture_at = _pp(
        ("on the side of", "a/an|the", "road street", "busy"),
        ("on", "a/an|the", "sidewalk street_corner", "city"),
        ("next to", "a/an", "road street", "busy"),
        ("next to", "a/an", "building tree", "tall"),
        ("in front of", "a/an", "building house store"),
    )
    landmark_at = _pp(
        ("in the middle of", "a/an", "city park", "large small"),
        ("on top of", "a/an", "building", "tall"),
        ("next to", "a/an", "street building tree", "tall"),
    )
    busy = seq(
        _np("a/an", "street city_street intersection road", "busy crowded empty", 0.6),
        alt("filled with", "with"),
        words(["cars", "traffic", "people", "cars and buses", "cars and people", "lots of traffic"]),
        opt("at night", 0.3),
    )
    return alt(
        (4, seq(_np("a/an|the", STREET_FIXTURES, STREET_FIXTURE_ADJ), fixture_at)),
        (2, seq(_np("a/an|the", LANDMARKS, LANDMARK_ADJ), landmark_at)),
        (2, busy),
    )


def sentence() -> Expr:
    """The whole language: a caption of one of six kinds, then "."."""
    return seq(
        alt(
            (0.42, _people()),
            (0.22, _animals()),
            (0.11, _vehicles()),
            (0.10, _food()),
            (0.08, _rooms()),
            (0.07, _streets()),
        ),
        ".",
    )
