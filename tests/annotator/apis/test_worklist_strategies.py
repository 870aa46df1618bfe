"""The worklist's strategies: each one's order over images of known status and uncertainty
(and tag uncertainty, here one minus it), paging, what Next is served, the strategy list, and
the database order matching the rule."""

import pytest

from annotator.selectors.strategies import STRATEGIES, ImageFacts, strategy_ranked
from tests import factories

# (status, uncertainty) of the images, in the order they are added
IMAGES = [
    ("unlabelled", 0.2),
    ("done", 0.9),
    ("proposed", None),
    ("reviewed", 0.5),
    ("in_progress", 0.7),
    ("unlabelled", 0.9),
]


@pytest.fixture
def images(world):
    """The images of ``IMAGES`` in the project, a to f by id."""
    return _images_of(world.project)


def _images_of(project):
    """An image a study for each row of ``IMAGES``, in its order."""
    return [
        factories.ImageFactory(
            instance__series__study__patient__project=project,
            status=status,
            uncertainty=uncertainty,
            tag_uncertainty=_tag_uncertainty(uncertainty),
        )
        for status, uncertainty in IMAGES
    ]


def _tag_uncertainty(uncertainty):
    return None if uncertainty is None else round(1 - uncertainty, 3)


def _ids(world, query="", user=None):
    client = world.client(user or world.annotator)
    response = client.get(f"/api/projects/chest/images/?page_size=100&{query}")
    assert response.status_code == 200, response.data
    return [row["id"] for row in response.data["results"]]


def _facts(image):
    return ImageFacts(
        id=image.pk,
        status=image.status,
        uncertainty=image.uncertainty,
        tag_uncertainty=image.tag_uncertainty,
        series_id=image.series_id,
        position=image.position,
    )


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("", "abcdef"),
        ("ordering=id", "abcdef"),
        ("ordering=-id", "fedcba"),
        ("ordering=unlabelled_first", "acefbd"),
        ("ordering=-uncertainty", "bfedac"),
        ("ordering=uncertainty", "adebfc"),
        ("ordering=-tag_uncertainty", "adebfc"),
        ("ordering=status", "becdaf"),
        ("ordering=-status", "afdceb"),
        ("ordering=position", "abcdef"),
    ],
)
def test_each_strategy_orders_images_of_known_status_and_uncertainty(
    world, images, ordering, expected
):
    assert _ids(world, ordering) == [images["abcdef".index(letter)].pk for letter in expected]


def test_random_is_a_stable_shuffle_of_its_own_for_each_user(world):
    images = [
        factories.ImageFactory(instance__series__study__patient__project=world.project)
        for _ in range(12)
    ]
    mine = _ids(world, "ordering=random")
    theirs = _ids(world, "ordering=random", user=world.reviewer)

    assert _ids(world, "ordering=random") == mine
    assert sorted(mine) == sorted(theirs) == [image.pk for image in images]
    assert mine != theirs
    assert mine != sorted(mine)
    seed = f"{world.project.pk}:{world.annotator.pk}"
    ranked = strategy_ranked(STRATEGIES["random"], [_facts(i) for i in images], seed=seed)
    assert mine == [facts.id for facts in ranked]


@pytest.mark.parametrize("ordering", ["random", "-uncertainty", "unlabelled_first"])
def test_pages_follow_the_strategy(world, images, ordering):
    client = world.client(world.annotator)
    paged = []
    for page in (1, 2, 3):
        response = client.get(
            f"/api/projects/chest/images/?ordering={ordering}&page_size=2&page={page}"
        )
        assert response.data["count"] == len(IMAGES)
        paged += [row["id"] for row in response.data["results"]]

    assert paged == _ids(world, f"ordering={ordering}")


def test_next_under_first_unlabelled_is_the_first_image_not_done(world, images):
    a, b, c, d, e, f = images
    client = world.client(world.annotator)
    assert _ids(world, "ordering=unlabelled_first")[:2] == [a.pk, c.pk]

    done = client.patch(f"/api/images/{a.pk}/", {"status": "done"}, format="json")

    assert done.status_code == 200, done.data
    assert _ids(world, "ordering=unlabelled_first") == [c.pk, e.pk, f.pk, a.pk, b.pk, d.pk]
    assert _ids(world, "ordering=unlabelled_first&status=unlabelled") == [f.pk]


def test_an_unknown_strategy_is_refused_naming_the_choices(world, images):
    response = world.client(world.annotator).get("/api/projects/chest/images/?ordering=best")

    assert (response.status_code, response.data["code"]) == (400, "unknown_filter_field")
    assert "'best'" in response.data["detail"]
    for name in ("random", "unlabelled_first", "-uncertainty", "id"):
        assert name in response.data["detail"]


def test_the_strategies_are_listed_with_their_titles(world):
    response = world.client(world.annotator).get("/api/strategies/")

    assert response.status_code == 200
    listed = {s["name"]: s for s in response.data}
    assert list(listed) == list(STRATEGIES)
    assert listed["random"]["title"] == "Random"
    assert listed["unlabelled_first"]["title"] == "First unlabelled"
    assert listed["-uncertainty"]["title"] == "Most uncertain first"
    assert all(s["description"] for s in response.data)
    assert [s["name"] for s in response.data if s["default"]] == ["id"]
    assert [s["name"] for s in response.data if s["not_done_first"]] == ["unlabelled_first"]


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_the_database_orders_as_the_strategy_ranks(world, name):
    """The worklist's order and the rule's Python ranking (the bench's) are one rule; also for
    grouped rows, whose facts are their instance's."""
    series = factories.SeriesFactory(study__patient__project=world.project)
    images = _images_of(world.project) + [
        factories.ImageFactory(
            instance__series=series, status=status, uncertainty=uncertainty, position=position
        )
        for status, uncertainty, position in (
            ("done", None, 2.5),
            ("unlabelled", 0.5, None),
            ("reviewed", 0.2, -1.0),
            ("proposed", 0.9, 2.5),
        )
    ]
    seed = f"{world.project.pk}:{world.annotator.pk}"
    ranked = [
        f.id for f in strategy_ranked(STRATEGIES[name], [_facts(i) for i in images], seed=seed)
    ]

    assert _ids(world, f"ordering={name}") == ranked
    assert _ids(world, f"ordering={name}&group=instance") == ranked
