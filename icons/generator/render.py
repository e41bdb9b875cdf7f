"""Draw one exercise pose as a small, anti-aliased picture on a light rounded card.

A pose is a picture of a figure built from joint angles (or from a target point a hand or ankle
should reach, solved with two-link inverse kinematics), plus simple props (chair, desk, bed,
floor mat, kerb, door frame, truck cab) and cue marks (arrows, arcs, spots).

World coordinates: the card is 100 x 100 units, y up, the floor at `GROUND_Y`. Angles are in
degrees, counter-clockwise from +x (0 = forward, 90 = up, -90 = down). A standing figure is
about 70 units tall.

Sides (which limb is the anatomical left): a side view shows the figure in profile, its nose
pointing to its front. Its "near" limbs (drawn on top, toward the viewer) are on the side the
viewer sees: a figure standing and facing right (+x) shows its RIGHT side, so its near limbs
are its right ones; mirrored (facing left) they are its left ones. A front view faces the
viewer: its left limbs are on the viewer's right (+x across the body). `limb_side` says which
anatomical side a drawn limb is, from the pose's facing and whether the picture is mirrored;
the generator mirrors a per-side picture so that the highlighted (working) limb is the side
the picture is for. Drawing is done at `SUPERSAMPLE` times the size and box-filtered down,
which gives anti-aliasing and keeps the output deterministic for a given Pillow.

Style: a dark figure (near limbs dark, far limbs grey) on a warm off-white card with a grey
edge, so it reads on light and dark desktops alike; the working limb in orange; cues in blue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image, ImageDraw, ImageFilter, ImageOps

Side = Literal["left", "right"]
Point = tuple[float, float]
RGB = tuple[int, int, int]

SUPERSAMPLE = 4
GROUND_Y = 10.0

# Body proportions in world units (a standing figure is about 70 units tall).
HEAD_R = 6.0
NECK = 2.2
TORSO = 22.0
UPPER_ARM = 12.0
FOREARM = 11.5
THIGH = 17.0
SHIN = 16.0
FOOT = 6.0
HEEL = 1.6

TORSO_W = 8.6
THIGH_W = 6.0
SHIN_W = 5.2
FOOT_W = 3.6
UPPER_ARM_W = 4.6
FOREARM_W = 4.0
HAND_R = 2.4
SHOULDER_HALF = 6.5  # front view: half the shoulder width
HIP_HALF = 3.4  # front view: half the distance between the hip joints
TORSO_FRONT_W = 12.0
CHAIR_BACK_H = 19.0  # chair back top above the seat (a hand can hold it standing)
NOSE_TURN = 95.0  # the nose is drawn this many degrees clockwise of the head's direction
GAP = 1.0  # card-coloured outline that separates a near limb from what is behind it
ANKLE_H = FOOT_W / 2  # ankle height above the floor with the foot flat

CARD: RGB = (247, 245, 240)
CARD_EDGE: RGB = (166, 177, 191)
INK: RGB = (30, 41, 59)
INK_FAR: RGB = (120, 134, 153)
ACCENT: RGB = (222, 84, 18)
ACCENT_FAR: RGB = (240, 152, 104)
PROP_FILL: RGB = (220, 226, 233)
PROP_LINE: RGB = (128, 142, 160)
FLOOR: RGB = (150, 162, 176)
MARK: RGB = (24, 110, 190)
TRUCK_FILL: RGB = (196, 211, 228)
GLASS: RGB = (232, 240, 248)
TYRE: RGB = (70, 82, 100)
MAT: RGB = (206, 226, 214)

PROP_LW = 1.1
CARD_RADIUS = 15.0
CARD_EDGE_W = 1.0


def direction(deg: float) -> Point:
    rad = math.radians(deg)
    return (math.cos(rad), math.sin(rad))


def along(p: Point, length: float, deg: float) -> Point:
    """The point `length` units from `p` in direction `deg`."""
    dx, dy = direction(deg)
    return (p[0] + length * dx, p[1] + length * dy)


def angle_to(p: Point, q: Point) -> float:
    return math.degrees(math.atan2(q[1] - p[1], q[0] - p[0]))


def solve_two_link(
    base: Point, target: Point, l1: float, l2: float, bend: int
) -> tuple[float, float]:
    """Angles (upper, lower) of a two-link chain from `base` reaching toward `target`.

    `bend` +1 bends the middle joint counter-clockwise of the base-target line (a knee forward
    for a leg hanging down), -1 clockwise. Out-of-reach targets give the nearest straight chain.
    """
    dx, dy = target[0] - base[0], target[1] - base[1]
    dist = math.hypot(dx, dy)
    dist = min(max(dist, abs(l1 - l2) + 1e-6), l1 + l2 - 1e-6)
    toward = math.degrees(math.atan2(dy, dx))
    cos_a = (l1 * l1 + dist * dist - l2 * l2) / (2 * l1 * dist)
    alpha = math.degrees(math.acos(max(-1.0, min(1.0, cos_a))))
    upper = toward + bend * alpha
    joint = along(base, l1, upper)
    lower = angle_to(joint, target)
    return upper, lower


@dataclass(frozen=True)
class Arm:
    """An arm by angles (`upper`, `lower`) or by the wrist point `to` (with elbow `bend`)."""

    upper: float = -90.0
    lower: float = -90.0
    to: Point | None = None
    bend: int = -1
    scale: tuple[float, float] = (1.0, 1.0)  # < 1 foreshortens a segment pointing at the viewer


@dataclass(frozen=True)
class Leg:
    """A leg by angles (`thigh`, `shin`) or by the ankle point `to` (with knee `bend`).

    `foot` is the foot's angle (0 = flat, pointing forward; negative = toes down).
    """

    thigh: float = -90.0
    shin: float = -90.0
    foot: float = 0.0
    to: Point | None = None
    bend: int = 1
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)  # thigh, shin, foot


PropKind = Literal[
    "floor",
    "chair",
    "desk",
    "mat",
    "cushion",
    "book",
    "door",
    "cab_seat",
    "seat_front",
    "bed",
    "kerb",
    "mat_top",
    "wheel",
    "dash",
    "truck_front",
    "truck_side",
]


@dataclass(frozen=True)
class Prop:
    """Scenery. `x`, `y` place it (see `_draw_prop` for each kind); `w`, `h` size it."""

    kind: PropKind
    x: float = 0.0
    y: float = GROUND_Y
    w: float = 0.0
    h: float = 0.0
    angle: float = 0.0


MarkKind = Literal["arrow", "darrow", "arc", "spot"]


@dataclass(frozen=True)
class Mark:
    """A cue. arrow/darrow: from `points[0]` to `points[1]`; arc: centre `points[0]`, radius
    `r`, from angle `a0` to `a1` (heads at both ends when `both`); spot: a soft accent disc."""

    kind: MarkKind
    points: tuple[Point, ...]
    r: float = 0.0
    a0: float = 0.0
    a1: float = 0.0
    both: bool = False
    squash: float = 1.0  # arc: the vertical radius is r * squash (an ellipse seen edge-on)


Limb = Literal["near_leg", "far_leg", "near_arm", "far_arm"]


@dataclass(frozen=True)
class Pose:
    """A whole picture: the figure (hip position, torso/head angles, four limbs) and scenery.

    `highlight` names the working limbs drawn in the accent colour. `shift_x` moves everything
    sideways after the automatic horizontal centring (when `centre` is true).
    """

    hip: Point
    torso: float = 90.0
    head: float | None = None
    near_arm: Arm = field(default_factory=Arm)
    far_arm: Arm = field(default_factory=Arm)
    near_leg: Leg = field(default_factory=Leg)
    far_leg: Leg = field(default_factory=Leg)
    props: tuple[Prop, ...] = ()
    marks: tuple[Mark, ...] = ()
    highlight: frozenset[Limb] = frozenset()
    centre: bool = True
    shift_x: float = 0.0
    view: Literal["side", "front"] = "side"


@dataclass(frozen=True)
class Skeleton:
    """Joint positions in world units, computed from a pose."""

    hip: Point
    shoulder: Point
    head: Point
    head_deg: float
    elbows: dict[str, Point]
    wrists: dict[str, Point]
    knees: dict[str, Point]
    ankles: dict[str, Point]
    heels: dict[str, Point]
    toes: dict[str, Point]
    arm_roots: dict[str, Point]
    leg_roots: dict[str, Point]

    def points(self) -> list[tuple[Point, float]]:
        """Every drawn point with the radius drawn around it (for bounds and floor checks)."""
        out: list[tuple[Point, float]] = [
            (self.hip, TORSO_W / 2),
            (self.shoulder, TORSO_W / 2),
            (self.head, HEAD_R),
        ]
        for side in ("near", "far"):
            out += [
                (self.elbows[side], UPPER_ARM_W / 2),
                (self.wrists[side], HAND_R),
                (self.knees[side], THIGH_W / 2),
                (self.ankles[side], FOOT_W / 2),
                (self.heels[side], FOOT_W / 2),
                (self.toes[side], FOOT_W / 2),
            ]
        return out


def skeleton(pose: Pose) -> Skeleton:
    """Forward (and two-link inverse) kinematics for a pose."""
    shoulder = along(pose.hip, TORSO, pose.torso)
    head_deg = pose.torso if pose.head is None else pose.head
    head = along(shoulder, NECK + HEAD_R, head_deg)
    elbows: dict[str, Point] = {}
    wrists: dict[str, Point] = {}
    knees: dict[str, Point] = {}
    ankles: dict[str, Point] = {}
    heels: dict[str, Point] = {}
    toes: dict[str, Point] = {}
    # Side view: both arms hang from one shoulder point and both legs from one hip point.
    # Front view (the figure faces the viewer): the left ("near") limbs are across the body
    # on the figure's left, which is the viewer's right: +x for an upright torso, and turned
    # with the torso (`left_of`) for a figure lying on its back seen from above.
    spread_sh, spread_hip = (SHOULDER_HALF, HIP_HALF) if pose.view == "front" else (0.0, 0.0)
    left = left_of(pose.torso)
    arm_roots = {
        "near": along(shoulder, spread_sh, left),
        "far": along(shoulder, -spread_sh, left),
    }
    leg_roots = {
        "near": along(pose.hip, spread_hip, left),
        "far": along(pose.hip, -spread_hip, left),
    }
    for side, arm, leg in (
        ("near", pose.near_arm, pose.near_leg),
        ("far", pose.far_arm, pose.far_leg),
    ):
        upper, lower = arm.upper, arm.lower
        l_upper, l_fore = UPPER_ARM * arm.scale[0], FOREARM * arm.scale[1]
        if arm.to is not None:  # IK
            upper, lower = solve_two_link(arm_roots[side], arm.to, l_upper, l_fore, arm.bend)
        elbows[side] = along(arm_roots[side], l_upper, upper)
        wrists[side] = along(elbows[side], l_fore, lower)
        thigh, shin = leg.thigh, leg.shin
        l_thigh, l_shin = THIGH * leg.scale[0], SHIN * leg.scale[1]
        if leg.to is not None:
            thigh, shin = solve_two_link(leg_roots[side], leg.to, l_thigh, l_shin, leg.bend)
        knees[side] = along(leg_roots[side], l_thigh, thigh)
        ankles[side] = along(knees[side], l_shin, shin)
        heels[side] = along(ankles[side], -HEEL * leg.scale[2], leg.foot)
        toes[side] = along(ankles[side], FOOT * leg.scale[2], leg.foot)
    return Skeleton(
        hip=pose.hip,
        shoulder=shoulder,
        head=head,
        head_deg=head_deg,
        elbows=elbows,
        wrists=wrists,
        knees=knees,
        ankles=ankles,
        heels=heels,
        toes=toes,
        arm_roots=arm_roots,
        leg_roots=leg_roots,
    )


def left_of(torso_deg: float) -> float:
    """Front view: the direction (degrees) from the spine to the figure's left side."""
    return torso_deg - 90.0


def facing_deg(pose: Pose) -> float:
    """Side view: the direction the figure's front (its nose) points, in degrees."""
    head_deg = pose.torso if pose.head is None else pose.head
    return head_deg - NOSE_TURN


def limb_side(pose: Pose, limb: Limb, mirrored: bool) -> Side:
    """The anatomical side ("left" / "right") of `limb` as drawn (see the module docstring).

    Side view: the near limbs face the viewer. The figure's right-hand direction is
    front x head-up (a cross product); it points at the viewer (+z) when the front is turned
    clockwise from the head's direction, as `facing_deg` draws it, so unmirrored near limbs
    are the right ones. Front view: near limbs are the left ones. A mirror swaps both.
    """
    near_is_right = pose.view == "side"
    if mirrored:
        near_is_right = not near_is_right
    near = limb.startswith("near")
    return "right" if near == near_is_right else "left"


def ankle_on_ground(x: float, foot_deg: float = 0.0, ground: float = GROUND_Y) -> Point:
    """Where the ankle goes so that the lowest point of a foot at `foot_deg` touches `ground`."""
    dy_toe = FOOT * math.sin(math.radians(foot_deg))
    dy_heel = -HEEL * math.sin(math.radians(foot_deg))
    return (x, ground + FOOT_W / 2 - min(dy_toe, dy_heel))


def _prop_bounds(prop: Prop) -> tuple[float, float] | None:
    """Horizontal extent of a prop for centring, or None for props that bleed off the card."""
    if prop.kind in ("floor", "truck_front", "truck_side", "dash", "mat", "mat_top", "kerb"):
        return None
    if prop.kind == "seat_front":
        return (prop.x - prop.w / 2, prop.x + prop.w / 2)
    if prop.kind in ("chair", "cab_seat"):
        half = 9.0
        return (prop.x - half - 2, prop.x + half)
    if prop.kind == "wheel":
        return (prop.x - 4, prop.x + 4)
    return (prop.x, prop.x + prop.w)


def _mark_points(mark: Mark) -> list[Point]:
    if mark.kind == "arc":
        c = mark.points[0]
        out = []
        for a in (mark.a0, mark.a1, (mark.a0 + mark.a1) / 2):
            dx, dy = direction(a)
            out.append((c[0] + mark.r * dx, c[1] + mark.r * mark.squash * dy))
        return out
    return list(mark.points)


def figure_bounds(pose: Pose) -> tuple[float, float, float, float]:
    """(min_x, min_y, max_x, max_y) of the figure, marks and non-bleeding props."""
    pts = skeleton(pose).points()
    xs = [p[0] - r for p, r in pts] + [p[0] + r for p, r in pts]
    ys = [p[1] - r for p, r in pts] + [p[1] + r for p, r in pts]
    for prop in pose.props:
        bounds = _prop_bounds(prop)
        if bounds is not None:
            xs += list(bounds)
    for mark in pose.marks:
        for p in _mark_points(mark):
            xs.append(p[0])
            ys.append(p[1])
    return min(xs), min(ys), max(xs), max(ys)


class _Canvas:
    """World-to-pixel drawing helpers on a supersampled RGBA image."""

    def __init__(self, size_px: int, dx: float) -> None:
        self.size = size_px
        self.scale = size_px / 100.0
        self.dx = dx
        self.image = Image.new("RGBA", (size_px, size_px), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.image)

    def px(self, p: Point) -> tuple[float, float]:
        return ((p[0] + self.dx) * self.scale, (100.0 - p[1]) * self.scale)

    def u(self, units: float) -> float:
        return units * self.scale

    def disc(self, c: Point, r: float, fill: RGB | tuple[int, int, int, int]) -> None:
        x, y = self.px(c)
        rr = self.u(r)
        self.draw.ellipse((x - rr, y - rr, x + rr, y + rr), fill=fill)

    def capsule(self, p: Point, q: Point, width: float, fill: RGB) -> None:
        self.disc(p, width / 2, fill)
        self.disc(q, width / 2, fill)
        a, b = self.px(p), self.px(q)
        if math.dist(a, b) > 0.5:
            # A polygon rather than draw.line: Pillow's wide lines have square, slightly uneven
            # ends at some angles; the explicit quad meets the end discs exactly.
            ang = math.atan2(b[1] - a[1], b[0] - a[0])
            hw = self.u(width) / 2
            ox, oy = -math.sin(ang) * hw, math.cos(ang) * hw
            self.draw.polygon(
                [(a[0] + ox, a[1] + oy), (b[0] + ox, b[1] + oy), (b[0] - ox, b[1] - oy),
                 (a[0] - ox, a[1] - oy)],
                fill=fill,
            )

    def taper(self, p: Point, q: Point, w_p: float, w_q: float, fill: RGB) -> None:
        """A limb segment `w_p` wide at p narrowing to `w_q` at q, with round ends."""
        self.disc(p, w_p / 2, fill)
        self.disc(q, w_q / 2, fill)
        a, b = self.px(p), self.px(q)
        if math.dist(a, b) > 0.5:
            ang = math.atan2(b[1] - a[1], b[0] - a[0])
            nx, ny = -math.sin(ang), math.cos(ang)
            hp, hq = self.u(w_p) / 2, self.u(w_q) / 2
            self.draw.polygon(
                [(a[0] + nx * hp, a[1] + ny * hp), (b[0] + nx * hq, b[1] + ny * hq),
                 (b[0] - nx * hq, b[1] - ny * hq), (a[0] - nx * hp, a[1] - ny * hp)],
                fill=fill,
            )

    def polyline(self, pts: Sequence[Point], width: float, fill: RGB) -> None:
        for p, q in zip(pts, pts[1:], strict=False):
            self.capsule(p, q, width, fill)

    def rect(
        self,
        x0: float,
        y0: float,
        x1: float,
        y1: float,
        fill: RGB | None,
        outline: RGB | None = PROP_LINE,
        radius: float = 0.8,
    ) -> None:
        a = self.px((min(x0, x1), max(y0, y1)))
        b = self.px((max(x0, x1), min(y0, y1)))
        self.draw.rounded_rectangle(
            (a[0], a[1], b[0], b[1]),
            radius=self.u(radius),
            fill=fill,
            outline=outline,
            width=max(1, round(self.u(PROP_LW))) if outline else 0,
        )

    def polygon(self, pts: Sequence[Point], fill: RGB, outline: RGB | None = None) -> None:
        self.draw.polygon([self.px(p) for p in pts], fill=fill)
        if outline is not None:
            self.polyline([*pts, pts[0]], PROP_LW, outline)


def _ellipse_points(c: Point, rx: float, ry: float, angle: float, n: int = 48) -> list[Point]:
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    pts = []
    for i in range(n):
        t = 2 * math.pi * i / n
        x, y = rx * math.cos(t), ry * math.sin(t)
        pts.append((c[0] + x * ca - y * sa, c[1] + x * sa + y * ca))
    return pts


def _draw_prop(cv: _Canvas, prop: Prop) -> None:
    k = prop.kind
    if k == "floor":
        cv.capsule((-60, GROUND_Y - 0.6), (160, GROUND_Y - 0.6), 1.2, FLOOR)
    elif k == "mat":
        cv.rect(prop.x, GROUND_Y, prop.x + prop.w, GROUND_Y - 1.2, MAT, PROP_LINE, 0.6)
    elif k == "cushion":
        cv.rect(prop.x, GROUND_Y, prop.x + prop.w, GROUND_Y + prop.h, PROP_FILL, PROP_LINE, 1.2)
    elif k == "book":
        cv.rect(prop.x, prop.y, prop.x + prop.w, prop.y + prop.h, (236, 214, 170), PROP_LINE, 0.4)
    elif k == "chair":
        # Seat centred on x with its top at y; the backrest is behind (-x) the sitter.
        seat_top, half = prop.y, 8.5
        flip = -1.0 if prop.angle else 1.0
        back_x = prop.x - flip * half
        front_x = prop.x + flip * half
        cv.rect(back_x - flip * 0.8, GROUND_Y, back_x + flip * 1.4, seat_top + CHAIR_BACK_H,
                PROP_FILL)
        cv.rect(front_x - flip * 1.4, GROUND_Y, front_x, seat_top, PROP_FILL)
        cv.rect(back_x, seat_top, front_x, seat_top - 2.6, PROP_FILL, PROP_LINE, 0.8)
    elif k == "desk":
        top = prop.y
        cv.rect(prop.x + prop.w - 3, GROUND_Y, prop.x + prop.w - 1, top, PROP_FILL)
        cv.rect(prop.x, top, prop.x + prop.w, top - 2.2, PROP_FILL, PROP_LINE, 0.6)
        if prop.h:
            # a monitor on a stand, near the far end of the desk
            mx = prop.x + prop.w - 5
            cv.rect(mx - 0.8, top, mx + 0.8, top + 4, PROP_FILL)
            cv.rect(mx - 1.6, top + 3.5, mx + 1.2, top + 3.5 + prop.h, (90, 104, 124), PROP_LINE,
                    0.6)
    elif k == "door":
        cv.rect(prop.x, GROUND_Y, prop.x + prop.w, 130, PROP_FILL)
    elif k == "cab_seat":
        seat_top = prop.y
        cv.rect(prop.x - 8, seat_top, prop.x + 8, seat_top - 5, PROP_FILL, PROP_LINE, 2.0)
        back = [
            (prop.x - 9.5, seat_top - 2),
            (prop.x - 14.5, seat_top + 27),
            (prop.x - 9.5, seat_top + 28),
            (prop.x - 5.0, seat_top - 1),
        ]
        cv.polygon(back, PROP_FILL)
        cv.polyline([*back, back[0]], PROP_LW, PROP_LINE)
        hx, hy = prop.x - 13.6, seat_top + 34
        # the headrest sits on two posts that go into the top of the backrest
        cv.capsule((hx - 1.2, seat_top + 26.5), (hx - 1.2, hy - 3.0), 1.0, PROP_LINE)
        cv.capsule((hx + 1.2, seat_top + 26.5), (hx + 1.2, hy - 3.0), 1.0, PROP_LINE)
        cv.rect(hx - 3.4, hy - 4.2, hx + 3.0, hy + 4.2, PROP_FILL, PROP_LINE, 2.0)
        cv.rect(prop.x - 2, seat_top - 5, prop.x + 2, GROUND_Y + 4, PROP_FILL)
        cv.rect(prop.x - 9, GROUND_Y + 4, prop.x + 9, GROUND_Y, PROP_FILL, PROP_LINE, 0.8)
    elif k == "seat_front":
        # A chair (or, with h > 0, a high-backed cab seat) seen from the front: the backrest
        # behind the sitter, the seat at y, two legs (or a pedestal) to the floor.
        x, seat_top, half = prop.x, prop.y, prop.w / 2
        back_top = seat_top + (prop.h or CHAIR_BACK_H)
        cv.rect(x - half + 1.5, seat_top, x + half - 1.5, back_top, PROP_FILL, PROP_LINE, 2.0)
        if prop.h:
            cv.rect(x - 5, back_top + 1.5, x + 5, back_top + 8, PROP_FILL, PROP_LINE, 2.0)
            cv.capsule((x - 2.5, back_top - 1), (x - 2.5, back_top + 2), 1.0, PROP_LINE)
            cv.capsule((x + 2.5, back_top - 1), (x + 2.5, back_top + 2), 1.0, PROP_LINE)
            cv.rect(x - 2, seat_top - 3, x + 2, GROUND_Y + 3, PROP_FILL)
            cv.rect(x - half + 2, GROUND_Y + 3, x + half - 2, GROUND_Y, PROP_FILL, PROP_LINE, 0.8)
        else:
            cv.rect(x - half + 1, GROUND_Y, x - half + 2.6, seat_top, PROP_FILL)
            cv.rect(x + half - 2.6, GROUND_Y, x + half - 1, seat_top, PROP_FILL)
        cv.rect(x - half, seat_top, x + half, seat_top - 3.0, PROP_FILL, PROP_LINE, 1.0)
    elif k == "bed":
        # A bed in side view: mattress top at y, from x over w units, a headboard at its left.
        top = prop.y
        cv.rect(prop.x, top, prop.x + prop.w, top - 6.5, (232, 236, 242), PROP_LINE, 2.0)
        cv.rect(prop.x + 1, top - 6.5, prop.x + prop.w - 1, top - 9.5, PROP_FILL, PROP_LINE, 0.6)
        for lx in (prop.x + 2.5, prop.x + prop.w - 4.5):
            cv.rect(lx, GROUND_Y, lx + 2, top - 9.5, PROP_FILL)
        cv.rect(prop.x - 2.2, GROUND_Y, prop.x, top + 12, PROP_FILL, PROP_LINE, 0.8)
    elif k == "kerb":
        # A kerb or low step: a block h high from x to x + w (bleeds off the card's edge).
        cv.rect(prop.x, GROUND_Y, prop.x + prop.w, GROUND_Y + prop.h, PROP_FILL, PROP_LINE, 0.6)
    elif k == "mat_top":
        # A mat seen from above (for a figure lying on its side, drawn as seen from above).
        cv.rect(prop.x, prop.y, prop.x + prop.w, prop.y + prop.h, MAT, PROP_LINE, 2.5)
    elif k == "wheel":
        c = (prop.x, prop.y)
        column_end = along(c, 18, prop.angle - 90)
        cv.capsule(c, column_end, 2.6, PROP_LINE)
        pts = _ellipse_points(c, 9.0, 2.0, prop.angle)
        cv.polyline([*pts, pts[0]], 2.4, (70, 82, 100))
    elif k == "dash":
        pts = [(prop.x, prop.y), (prop.x + 40, prop.y), (prop.x + 40, prop.y - 14),
               (prop.x + 4, prop.y - 14)]
        cv.polygon(pts, PROP_FILL)
        cv.polyline([pts[3], pts[0], pts[1]], PROP_LW, PROP_LINE)
    elif k == "truck_front":
        # The truck seen end-on at the right edge: its body from x to beyond the card (the
        # bumper at height y), a tyre below. No steps or handles are drawn: no exercise uses
        # them (vehicle access steps are a common place of falls).
        x, low = prop.x, prop.y
        cv.rect(x + 6, GROUND_Y, x + 20, GROUND_Y + 22, TYRE, None, 2.0)
        cv.rect(x, low, x + 60, 130, TRUCK_FILL, PROP_LINE, 2.5)
        cv.rect(x + 4, 66, x + 60, 120, GLASS, PROP_LINE, 2.0)
        cv.rect(x + 3, low + 4, x + 60, low + 9, PROP_FILL, PROP_LINE, 1.0)
    elif k == "truck_side":
        # A cab in side view facing -x, its front at x, behind the figure.
        x = prop.x
        body = [(x, 26), (x, 76), (x + 6, 84), (x + 46, 84), (x + 46, 26)]
        cv.polygon(body, TRUCK_FILL)
        cv.polyline([*body, body[0]], PROP_LW, PROP_LINE)
        win = [(x + 2.5, 58), (x + 2.5, 74), (x + 8, 80), (x + 22, 80), (x + 22, 58)]
        cv.polygon(win, GLASS)
        cv.polyline([*win, win[0]], PROP_LW, PROP_LINE)
        cv.rect(x + 25, 30, x + 27, 56, PROP_FILL, PROP_LINE, 0.5)
        cv.rect(x + 46, 26, x + 140, 80, (214, 222, 231), PROP_LINE, 1.0)
        for wx in (x + 12, x + 92):
            cv.disc((wx, GROUND_Y + 9), 9.0, TYRE)
            cv.disc((wx, GROUND_Y + 9), 3.6, (160, 170, 184))


def _arrow_head(cv: _Canvas, tip: Point, deg: float, size: float, color: RGB) -> None:
    left = along(tip, size, deg + 150)
    right = along(tip, size, deg - 150)
    cv.draw.polygon([cv.px(tip), cv.px(left), cv.px(right)], fill=color)


def _draw_mark(cv: _Canvas, mark: Mark) -> None:
    width, head = 1.5, 4.2
    if mark.kind in ("arrow", "darrow"):
        p, q = mark.points[0], mark.points[1]
        deg = angle_to(p, q)
        shaft_end = along(q, -head * 0.7, deg)
        shaft_start = along(p, head * 0.7, deg) if mark.kind == "darrow" else p
        cv.capsule(shaft_start, shaft_end, width, MARK)
        _arrow_head(cv, q, deg, head, MARK)
        if mark.kind == "darrow":
            _arrow_head(cv, p, deg + 180, head, MARK)
    elif mark.kind == "arc":
        c, r = mark.points[0], mark.r
        steps = 24
        trim = math.degrees(head * 0.7 / r) * (1 if mark.a1 > mark.a0 else -1)
        a_start = mark.a0 + (trim if mark.both else 0.0)
        a_end = mark.a1 - trim
        sq = mark.squash

        def at(a: float) -> Point:
            dx, dy = direction(a)
            return (c[0] + r * dx, c[1] + r * sq * dy)

        def tangent(a: float, sign: int) -> float:
            # direction of travel along the (squashed) arc at angle a
            dx, dy = direction(a + sign * 90)
            return math.degrees(math.atan2(dy * sq, dx))

        pts = [at(a_start + (a_end - a_start) * i / steps) for i in range(steps + 1)]
        cv.polyline(pts, width, MARK)
        sign = 1 if mark.a1 > mark.a0 else -1
        _arrow_head(cv, at(mark.a1), tangent(mark.a1, sign) - sign * 8, head, MARK)
        if mark.both:
            _arrow_head(cv, at(mark.a0), tangent(mark.a0, -sign) + sign * 8, head, MARK)
    elif mark.kind == "spot":
        cv.disc(mark.points[0], mark.r, (*ACCENT, 110))


def _draw_mark_with_halo(cv: _Canvas, mark: Mark) -> None:
    """Draw a cue with a thin card-coloured halo, so it reads over the figure or a prop."""
    if mark.kind == "spot":
        _draw_mark(cv, mark)
        return
    layer = _Canvas(cv.size, cv.dx)
    _draw_mark(layer, mark)
    bbox = layer.image.getbbox()
    if bbox is None:
        return
    pad = max(2, round(cv.u(GAP)))
    box = (max(0, bbox[0] - pad), max(0, bbox[1] - pad),
           min(cv.size, bbox[2] + pad), min(cv.size, bbox[3] + pad))
    alpha = layer.image.getchannel("A").crop(box)
    halo = alpha.filter(ImageFilter.MaxFilter(2 * pad + 1))
    cv.image.paste((*CARD, 255), box, halo)
    cv.image.alpha_composite(layer.image.crop(box), dest=box[:2])


def _limb_colour(limb: Limb, highlight: frozenset[Limb]) -> RGB:
    near = limb.startswith("near")
    if limb in highlight:
        return ACCENT if near else ACCENT_FAR
    return INK if near else INK_FAR


def _draw_leg(cv: _Canvas, sk: Skeleton, side: str, colour: RGB, gap: bool) -> None:
    hip, knee, ankle = sk.leg_roots[side], sk.knees[side], sk.ankles[side]
    heel, toe = sk.heels[side], sk.toes[side]
    if gap:
        # Outline the leg in card colour, except at the hip where it joins the body.
        start = along(hip, TORSO_W / 2 + 0.5, angle_to(hip, knee))
        cv.capsule(start, knee, THIGH_W + 2 * GAP, CARD)
        cv.taper(knee, ankle, SHIN_W + 2 * GAP, FOOT_W + 2 * GAP, CARD)
        cv.capsule(heel, toe, FOOT_W + 2 * GAP, CARD)
    cv.capsule(heel, toe, FOOT_W, colour)
    cv.taper(knee, ankle, SHIN_W, FOOT_W, colour)
    cv.capsule(hip, knee, THIGH_W, colour)


def _draw_arm(cv: _Canvas, sk: Skeleton, side: str, colour: RGB, gap: bool) -> None:
    shoulder, elbow, wrist = sk.arm_roots[side], sk.elbows[side], sk.wrists[side]
    if gap:
        start = along(shoulder, TORSO_W / 2 + 0.3, angle_to(shoulder, elbow))
        cv.capsule(start, elbow, UPPER_ARM_W + 2 * GAP, CARD)
        cv.capsule(elbow, wrist, FOREARM_W + 2 * GAP, CARD)
        cv.disc(wrist, HAND_R + GAP, CARD)
    cv.capsule(shoulder, elbow, UPPER_ARM_W, colour)
    cv.capsule(elbow, wrist, FOREARM_W, colour)
    cv.disc(wrist, HAND_R, colour)


def _draw_figure(cv: _Canvas, pose: Pose, sk: Skeleton) -> None:
    hl = pose.highlight
    if pose.view == "front":
        _draw_front_figure(cv, pose, sk)
        return
    _draw_arm(cv, sk, "far", _limb_colour("far_arm", hl), gap=False)
    _draw_leg(cv, sk, "far", _limb_colour("far_leg", hl), gap=False)
    # torso and head
    cv.capsule(sk.hip, sk.shoulder, TORSO_W, INK)
    neck_top = along(sk.shoulder, NECK + 1.0, sk.head_deg)
    cv.capsule(sk.shoulder, neck_top, 3.6, INK)
    cv.disc(sk.head, HEAD_R, INK)
    # A small nose shows which way the figure faces (and whether the face is up or down).
    cv.disc(along(sk.head, HEAD_R * 0.9, sk.head_deg - NOSE_TURN), 1.5, INK)
    _draw_leg(cv, sk, "near", _limb_colour("near_leg", hl), gap=True)
    _draw_arm(cv, sk, "near", _limb_colour("near_arm", hl), gap=True)


def _draw_front_figure(cv: _Canvas, pose: Pose, sk: Skeleton) -> None:
    """Facing the viewer: both sides in full colour, a wider torso, no nose."""
    hl = pose.highlight
    for side in ("far", "near"):
        leg: Limb = "near_leg" if side == "near" else "far_leg"
        colour = ACCENT if leg in hl else INK
        _draw_leg(cv, sk, side, colour, gap=False)
    cv.capsule(sk.leg_roots["near"], sk.leg_roots["far"], THIGH_W, INK)
    cv.capsule(sk.hip, along(sk.shoulder, -2.0, pose.torso), TORSO_FRONT_W, INK)
    cv.capsule(sk.arm_roots["near"], sk.arm_roots["far"], UPPER_ARM_W + 1.0, INK)
    neck_top = along(sk.shoulder, NECK + 1.0, sk.head_deg)
    cv.capsule(sk.shoulder, neck_top, 4.0, INK)
    cv.disc(sk.head, HEAD_R, INK)
    for side in ("far", "near"):
        arm: Limb = "near_arm" if side == "near" else "far_arm"
        colour = ACCENT if arm in hl else INK
        _draw_arm(cv, sk, side, colour, gap=True)


def _card_mask(size: int, inset: float) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    radius = CARD_RADIUS * size / 100
    ImageDraw.Draw(mask).rounded_rectangle(
        (inset, inset, size - 1 - inset, size - 1 - inset), radius=radius, fill=255
    )
    return mask


def render_pose(pose: Pose, size_px: int = 256, mirror: bool = False) -> Image.Image:
    """Render `pose` as an RGBA image `size_px` square; `mirror` flips it for the right side."""
    big = size_px * SUPERSAMPLE
    dx = pose.shift_x
    if pose.centre:
        x0, _y0, x1, _y1 = figure_bounds(pose)
        dx += 50.0 - (x0 + x1) / 2
    sk = skeleton(pose)

    scene = _Canvas(big, dx)
    for prop in pose.props:
        _draw_prop(scene, prop)
    _draw_figure(scene, pose, sk)
    for mark in pose.marks:
        _draw_mark_with_halo(scene, mark)

    card = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    edge_px = CARD_EDGE_W * big / 100
    outer = _card_mask(big, 0)
    inner = _card_mask(big, edge_px)
    card.paste(Image.new("RGBA", (big, big), (*CARD_EDGE, 255)), mask=outer)
    card.paste(Image.new("RGBA", (big, big), (*CARD, 255)), mask=inner)
    scene_alpha = scene.image.getchannel("A")
    clipped = Image.composite(scene_alpha, Image.new("L", (big, big), 0), inner)
    scene.image.putalpha(clipped)
    card = Image.alpha_composite(card, scene.image)

    # Premultiply before the box filter so transparent corners do not bleed dark fringes.
    small = card.convert("RGBa").resize((size_px, size_px), Image.Resampling.BOX).convert("RGBA")
    return ImageOps.mirror(small) if mirror else small


def floor_problems(pose: Pose, tolerance: float = 0.6) -> list[str]:
    """Joints drawn below the floor (a check for pose authors; empty when fine)."""
    problems = []
    sk = skeleton(pose)
    names = ["hip", "shoulder", "head"] + [
        f"{side} {joint}"
        for side in ("near", "far")
        for joint in ("elbow", "wrist", "knee", "ankle", "heel", "toe")
    ]
    for name, (p, r) in zip(names, sk.points(), strict=True):
        if p[1] - r < GROUND_Y - tolerance:
            problems.append(f"{name} is {GROUND_Y - (p[1] - r):.1f} units below the floor")
    return problems
