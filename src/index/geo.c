/*
 * geo.c - geo predicates with Qdrant's exact semantics (see geo.h).
 *
 * Design. Each predicate transcribes the code Qdrant runs rather than a
 * textbook formula, because the two disagree exactly where users probe:
 * on edges and rims. The box test is GeoBoundingBox::check_point. The
 * distance is geo 0.32's HaversineMeasure::distance with the same
 * operation order (degrees to radians by x * (pi / 180), differences
 * taken in degrees first), so that for the same libm it gives the same
 * double. The polygon test is geo's Polygon::contains: coordinate_position
 * with coord_pos_relative_to_ring (a winding number with an on-boundary
 * short cut) per ring, and "Inside" only when the exterior says inside
 * and no hole says inside or boundary.
 *
 * The orientation predicate must be exact: a naive double determinant
 * misjudges points within an ulp of an edge, and geo uses Shewchuk's
 * adaptive predicate. We use the same first stage (the determinant with
 * Shewchuk's error bound, enough for almost every call) and, when it
 * cannot decide, sum the six products of the expanded determinant
 * exactly as a floating-point expansion (products split exactly with
 * fma, sums with two-sum); the sign of an expansion is the sign of its
 * largest component. Shewchuk's later adaptive stages were rejected: they
 * only make the rare exact case faster, at four times the code.
 */
#include "index/geo.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

/* ---- points ---- */

int geo_point_valid(double lon, double lat)
{
    return lon >= -180.0 && lon <= 180.0 && lat >= -90.0 && lat <= 90.0;
}

/* Rust's f64::to_radians: self * (PI / 180). */
static double to_radians(double deg)
{
    return deg * (M_PI / 180.0);
}

double geo_haversine_m(GeoPoint a, GeoPoint b)
{
    double theta1 = to_radians(a.lat);
    double theta2 = to_radians(b.lat);
    double delta_theta = to_radians(b.lat - a.lat);
    double delta_lambda = to_radians(b.lon - a.lon);
    double s1 = sin(delta_theta / 2.0), s2 = sin(delta_lambda / 2.0);
    double h = s1 * s1 + cos(theta1) * cos(theta2) * (s2 * s2);
    double c = 2.0 * asin(sqrt(h));
    return GEO_EARTH_RADIUS_M * c;
}

/* ---- box and radius ---- */

int geo_box_contains(const GeoBox *b, GeoPoint p)
{
    int lon_ok;
    if (b->top_left.lon > b->bottom_right.lon) /* crosses the antimeridian */
        lon_ok = p.lon > b->top_left.lon || p.lon < b->bottom_right.lon;
    else
        lon_ok = b->top_left.lon < p.lon && p.lon < b->bottom_right.lon;
    return lon_ok && b->bottom_right.lat < p.lat && p.lat < b->top_left.lat;
}

int geo_radius_contains(const GeoRadius *r, GeoPoint p)
{
    return geo_haversine_m(r->center, p) < r->radius;
}

/* ---- exact orientation ---- */

/* Shewchuk's ccwerrboundA: (3 + 16 eps) eps with eps = 2^-53. */
#define GEO_CCW_ERRBOUND_A ((3.0 + 16.0 * (DBL_EPSILON / 2)) * (DBL_EPSILON / 2))
/* Terms of the expanded determinant as exact two-part products. */
#define GEO_EXPANSION_MAX 12

/* two_sum: a + b == *s + *e exactly (Knuth). */
static void two_sum(double a, double b, double *s, double *e)
{
    double x = a + b;
    double bv = x - a;
    double av = x - bv;
    *e = (a - av) + (b - bv);
    *s = x;
}

/* grow adds b to the expansion h[0..*n) (nonoverlapping, increasing
 * magnitude), Shewchuk's Grow-Expansion; zeros may remain inside. */
static void grow(double *h, int *n, double b)
{
    double q = b;
    for (int i = 0; i < *n; i++) two_sum(q, h[i], &q, &h[i]);
    h[(*n)++] = q;
}

/* orient_exact: the sign of ax*by - ax*cy - cx*by - ay*bx + ay*cx + cy*bx,
 * which is (a - c) x (b - c) expanded (the cx*cy terms cancel). */
static int orient_exact(GeoPoint a, GeoPoint b, GeoPoint c)
{
    const double f[6][2] = {
        { a.lon, b.lat }, { -a.lon, c.lat }, { -c.lon, b.lat },
        { -a.lat, b.lon }, { a.lat, c.lon }, { c.lat, b.lon },
    };
    double h[GEO_EXPANSION_MAX];
    int n = 0;
    for (int i = 0; i < 6; i++) {
        double p = f[i][0] * f[i][1];
        double e = fma(f[i][0], f[i][1], -p);
        grow(h, &n, e);
        grow(h, &n, p);
    }
    for (int i = n - 1; i >= 0; i--)
        if (h[i] != 0.0) return h[i] > 0 ? 1 : -1;
    return 0;
}

static int sign_of(double x)
{
    return (x > 0) - (x < 0);
}

int geo_orient2d(GeoPoint a, GeoPoint b, GeoPoint c)
{
    /* robust::orient2d(pa, pb, pc): (pa - pc) x (pb - pc), first stage. */
    double detleft = (a.lon - c.lon) * (b.lat - c.lat);
    double detright = (a.lat - c.lat) * (b.lon - c.lon);
    double det = detleft - detright, detsum;
    if (detleft > 0.0) {
        if (detright <= 0.0) return sign_of(det);
        detsum = detleft + detright;
    } else if (detleft < 0.0) {
        if (detright >= 0.0) return sign_of(det);
        detsum = -detleft - detright;
    } else {
        return sign_of(det);
    }
    double errbound = GEO_CCW_ERRBOUND_A * detsum;
    if (det >= errbound || -det >= errbound) return sign_of(det);
    return orient_exact(a, b, c);
}

/* ---- polygons ---- */

enum { GEO_OUTSIDE = 0, GEO_INSIDE, GEO_BOUNDARY };

/* geo's value_in_between: v within the closed interval of two bounds. */
static int between(double v, double b1, double b2)
{
    return b1 < b2 ? v >= b1 && v <= b2 : v >= b2 && v <= b1;
}

/* ring_position is geo's coord_pos_relative_to_ring: a winding number
 * over the ring's segments (upward edges include their start, downward
 * ones their end, horizontal ones count only as boundary), returning
 * GEO_BOUNDARY as soon as the point lies on a segment. */
static int ring_position(const GeoRing *r, GeoPoint p)
{
    /* Outside the bounding rectangle no segment can reach the point nor
     * cross the ray to its right with a nonzero net count. */
    if (p.lon < r->min.lon || p.lon > r->max.lon || p.lat < r->min.lat || p.lat > r->max.lat)
        return GEO_OUTSIDE;
    int winding = 0;
    for (uint32_t i = 0; i + 1 < r->n; i++) {
        GeoPoint s = r->points[i], e = r->points[i + 1];
        if (s.lat <= p.lat) {
            if (e.lat >= p.lat) {
                int o = geo_orient2d(s, e, p);
                if (o > 0 && e.lat != p.lat)
                    winding++;
                else if (o == 0 && between(p.lon, s.lon, e.lon))
                    return GEO_BOUNDARY;
            }
        } else if (e.lat <= p.lat) {
            int o = geo_orient2d(s, e, p);
            if (o < 0)
                winding--;
            else if (o == 0 && between(p.lon, s.lon, e.lon))
                return GEO_BOUNDARY;
        }
    }
    return winding ? GEO_INSIDE : GEO_OUTSIDE;
}

int geo_polygon_contains(const GeoPolygon *poly, GeoPoint p)
{
    /* geo's CoordinatePosition for Polygon: a boundary hit on the exterior
     * or on a hole (odd boundary count) is not "Inside", nor is a point
     * inside a hole. */
    if (ring_position(&poly->exterior, p) != GEO_INSIDE) return 0;
    for (uint32_t i = 0; i < poly->n_interiors; i++)
        if (ring_position(&poly->interiors[i], p) != GEO_OUTSIDE) return 0;
    return 1;
}

int geo_ring_init(GeoPoint *points, uint32_t n, GeoRing *ring, char *err, size_t errlen)
{
    if (n < GEO_RING_MIN_POINTS) {
        if (err && errlen)
            snprintf(err, errlen, "Validation failed: polygon invalid, the size must be at least %d, got %u",
                     GEO_RING_MIN_POINTS, n);
        return ERR_INVAL;
    }
    GeoPoint first = points[0], last = points[n - 1];
    if (fabs(first.lat - last.lat) > DBL_EPSILON || fabs(first.lon - last.lon) > DBL_EPSILON) {
        if (err && errlen)
            snprintf(err, errlen,
                     "Validation failed: polygon invalid, the first and the last points should be "
                     "the same to form a closed line");
        return ERR_INVAL;
    }
    /* LineString::close: ends that differ within the tolerance get a
     * closing segment back to the first point. */
    if (first.lon != last.lon || first.lat != last.lat) points[n++] = first;
    ring->points = points;
    ring->n = n;
    ring->min = ring->max = first;
    for (uint32_t i = 1; i < n; i++) {
        ring->min.lon = fmin(ring->min.lon, points[i].lon);
        ring->min.lat = fmin(ring->min.lat, points[i].lat);
        ring->max.lon = fmax(ring->max.lon, points[i].lon);
        ring->max.lat = fmax(ring->max.lat, points[i].lat);
    }
    return 0;
}

/* ---- messages ---- */

int geo_format_degrees(char *out, size_t n, double v)
{
    if (isnan(v)) return snprintf(out, n, "NaN");
    if (isinf(v)) return snprintf(out, n, v < 0 ? "-inf" : "inf");
    /* Shortest round-trip digits, then laid out without an exponent. */
    char sci[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(sci, sizeof sci, "%.*e", prec - 1, v);
        if (strtod(sci, NULL) == v) break;
    }
    char digits[24];
    size_t nd = 0;
    const char *s = sci;
    int neg = *s == '-';
    if (neg) s++;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9' && nd < sizeof digits - 1) digits[nd++] = *s;
    int exp10 = *s == 'e' ? atoi(s + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0') nd--; /* 1.50e+00 -> 15 */
    digits[nd] = '\0';
    char buf[400];
    size_t len = 0;
    if (neg) buf[len++] = '-';
    int point = exp10 + 1; /* digits before the decimal point */
    if (point <= 0) {
        buf[len++] = '0';
        buf[len++] = '.';
        for (int i = 0; i < -point; i++) buf[len++] = '0';
        memcpy(buf + len, digits, nd);
        len += nd;
    } else if ((size_t)point >= nd) {
        memcpy(buf + len, digits, nd);
        len += nd;
        for (size_t i = nd; i < (size_t)point; i++) buf[len++] = '0';
    } else {
        memcpy(buf + len, digits, (size_t)point);
        len += (size_t)point;
        buf[len++] = '.';
        memcpy(buf + len, digits + point, nd - (size_t)point);
        len += nd - (size_t)point;
    }
    buf[len] = '\0';
    return snprintf(out, n, "%s", buf);
}
