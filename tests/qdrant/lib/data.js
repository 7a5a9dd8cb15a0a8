// data.js - the points the suites upsert, generated from a seed so the
// brute-force reference and the server see the same data.
import { rng, randVec } from './brute.js';

const COLORS = ['red', 'green', 'blue', 'black'];
const CITIES = ['Berlin', 'London', 'Moscow', 'Paris', 'Tokyo'];

// n points with ids 1..n, one dense vector of `dim`, and a payload that
// exercises keyword, integer, float, bool, arrays, nested objects and a
// missing field (every 7th point has no `price`).
export function makePoints(seed, n, dim) {
    const r = rng(seed);
    const pts = [];
    for (let i = 1; i <= n; i++) {
        const payload = {
            color: COLORS[i % COLORS.length],
            count: i % 10,
            price: Math.round(r() * 10000) / 100,
            in_stock: i % 3 === 0,
            cities: [CITIES[i % CITIES.length], CITIES[(i * 3) % CITIES.length]],
            meta: { brand: `b${i % 5}`, rank: i },
        };
        if (i % 7 === 0) delete payload.price;
        pts.push({ id: i, vector: randVec(r, dim), payload });
    }
    return pts;
}

// Named-vector points: {image: dim, text: dim2}; every 5th point lacks `text`.
export function makeNamedPoints(seed, n, dim, dim2) {
    const r = rng(seed);
    const pts = [];
    for (let i = 1; i <= n; i++) {
        const vectors = { image: randVec(r, dim) };
        if (i % 5 !== 0) vectors.text = randVec(r, dim2);
        pts.push({ id: i, vectors, payload: { group: `g${i % 4}`, n: i } });
    }
    return pts;
}

// The brute-force view of named points for one vector name.
export function view(points, name) {
    return points.map((p) => ({ id: p.id, payload: p.payload, vector: p.vectors[name] ?? null, vectors: p.vectors }));
}

export async function upsertAll(client, name, points, batch = 100) {
    for (let i = 0; i < points.length; i += batch) {
        const chunk = points.slice(i, i + batch).map((p) => ({ id: p.id, vector: p.vector ?? p.vectors, payload: p.payload }));
        await client.upsert(name, { wait: true, points: chunk });
    }
}
