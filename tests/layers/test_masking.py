"""Mask construction, tested alone (pure numpy)."""

import numpy as np
import pytest

from ar_keras.layers import masking


def connectivity(masks):
    """Boolean [in, out] reachability through a chain of masks."""
    reach = masks[0] > 0
    for m in masks[1:]:
        reach = (reach.astype(np.int64) @ (m > 0).astype(np.int64)) > 0
    return reach


@pytest.mark.parametrize("ordering", ["natural", "reversed", "random", [2, 0, 3, 1, 4]])
@pytest.mark.parametrize("hidden", [[7], [9, 6], [3, 3, 3]])
def test_made_paths_respect_the_ordering(ordering, hidden):
    D = 5
    degrees = masking.made_degrees(D, hidden, ordering=ordering, seed=3)
    masks = masking.made_masks(degrees)
    reach = connectivity(masks)  # [D_in, D_out]
    deg = degrees[0]
    allowed = deg[None, :] > deg[:, None]  # in i -> out d iff m(i) < m(d)
    assert not np.any(reach & ~allowed)
    # The direct connection obeys the same rule.
    assert not np.any((masking.made_direct_mask(deg) > 0) & ~allowed)


def test_made_equal_degrees_connect_every_allowed_pair():
    degrees = masking.made_degrees(6, [10, 10], ordering="natural", hidden_degrees="equal")
    reach = connectivity(masking.made_masks(degrees))
    deg = degrees[0]
    np.testing.assert_array_equal(reach, deg[None, :] > deg[:, None])


def test_input_ordering():
    np.testing.assert_array_equal(masking.input_ordering(3, "natural"), [1, 2, 3])
    np.testing.assert_array_equal(masking.input_ordering(3, "reversed"), [3, 2, 1])
    # ordering[t] is generated at step t: element 2 first.
    np.testing.assert_array_equal(masking.input_ordering(3, [2, 0, 1]), [2, 3, 1])
    with pytest.raises(ValueError, match="permutation"):
        masking.input_ordering(3, [0, 0, 1])
    with pytest.raises(ValueError, match="Unknown ordering"):
        masking.input_ordering(3, "sideways")


def test_channel_groups():
    np.testing.assert_array_equal(masking.channel_groups(6, 3), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(masking.channel_groups(4, 2, splits=2), [0, 1, 0, 1])
    with pytest.raises(ValueError):
        masking.channel_groups(2, 3)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_conv_mask_spatial_and_channels(mask_type):
    groups = np.arange(3)
    m = masking.conv_mask((3, 3), groups, groups, mask_type)
    assert m.shape == (3, 3, 3, 3)
    assert np.all(m[0] == 1) and np.all(m[1, 0] == 1)  # rows above, pixel left
    assert np.all(m[2] == 0) and np.all(m[1, 2] == 0)  # below, right
    centre = m[1, 1]  # [in, out]
    expected = (
        (groups[None, :] > groups[:, None]) if mask_type == "A" else (groups[None, :] >= groups[:, None])
    )
    np.testing.assert_array_equal(centre, expected.astype(np.float32))
    # R (out group 0) never sees G or B of its own pixel.
    assert np.all(centre[1:, 0] == 0)


def test_conv_mask_custom_centre():
    m = masking.conv_mask((1, 3), [0], [0], "A", centre=(0, 2))
    np.testing.assert_array_equal(m[0, :, 0, 0], [1, 1, 0])
    with pytest.raises(ValueError):
        masking.conv_mask((3, 3), [0], [0], "C")


def test_degree_mask_is_the_made_rule_and_builds_made_masks():
    a, b = np.array([1, 2, 3]), np.array([2, 1, 3, 3])
    np.testing.assert_array_equal(masking.degree_mask(a, b), b[None, :] >= a[:, None])
    np.testing.assert_array_equal(masking.degree_mask(a, b, strict=True), b[None, :] > a[:, None])
    # Leading axes broadcast: one mask per row of a stack of degree rows.
    stacked = masking.degree_mask(np.stack([a, a[::-1]]), np.stack([b, b]))
    assert stacked.shape == (2, 3, 4)
    np.testing.assert_array_equal(stacked[1], b[None, :] >= a[::-1][:, None])
    degrees = masking.made_degrees(4, [6, 5], seed=1)
    masks = masking.masks_from_degrees(degrees, degrees[0])
    assert [m.dtype for m in masks] == [bool] * 3
    for got, want in zip(masking.made_masks(degrees), masks):
        np.testing.assert_array_equal(got, want.astype(np.float32))


@pytest.mark.parametrize("order_agnostic", [False, True])
def test_made_degree_sets_differ_and_set_zero_keeps_the_ordering(order_agnostic):
    sets = masking.made_degree_sets(
        6, [8, 7], num_sets=5, ordering="reversed", order_agnostic=order_agnostic, seed=4
    )
    assert [t.shape for t in sets] == [(5, 6), (5, 8), (5, 7)]
    for m in range(5):
        order = "random" if (order_agnostic and m > 0) else "reversed"
        want = masking.made_degrees(6, [8, 7], ordering=order, seed=4 + m)
        for table, deg in zip(sets, want):
            np.testing.assert_array_equal(table[m], deg)
    np.testing.assert_array_equal(sets[0][0], masking.input_ordering(6, "reversed"))
    assert len({t.tobytes() for t in sets[1]}) > 1  # hidden degrees differ
    orderings = {row.tobytes() for row in sets[0]}
    assert (len(orderings) > 1) == order_agnostic
    with pytest.raises(ValueError, match="num_sets"):
        masking.made_degree_sets(3, [4], num_sets=0)
