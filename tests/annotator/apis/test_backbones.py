"""GET /api/backbones/: the backbones a training can name, the CPU default first; a training
naming another one is refused."""

from annotator.services import jobs


def test_the_backbones_are_listed_default_first_with_which_are_pretrained(world):
    response = world.client(world.annotator).get("/api/backbones/")

    assert response.status_code == 200
    assert [b["name"] for b in response.data] == list(jobs.BACKBONES)
    assert response.data[0]["name"] == jobs.DEFAULT_BACKBONE
    assert [b["name"] for b in response.data if b["pretrained"]] == ["efficientnet_lite0_fpn"]
    assert all(b["title"] for b in response.data)


def test_the_backbones_need_a_signed_in_user(world):
    assert world.client().get("/api/backbones/").status_code in (401, 403)
