//! Choosing among variants: the Pareto frontier of two metrics to minimize (cost against a
//! latency) and the best variant by an objective.

use crate::scenario::sweep::Direction;

/// For each point, whether no other point is at least as good in both coordinates and better in
/// one (both are minimized). Points without both values are never on the frontier; equal points
/// are on it together.
pub fn pareto(points: &[Option<(f64, f64)>]) -> Vec<bool> {
    points
        .iter()
        .map(|p| {
            let Some((x, y)) = *p else { return false };
            !points
                .iter()
                .flatten()
                .any(|&(ox, oy)| ox <= x && oy <= y && (ox < x || oy < y))
        })
        .collect()
}

/// The index of the best candidate by `direction` (the first of equals), among those with a
/// value.
pub fn best(values: &[Option<f64>], candidates: &[bool], direction: Direction) -> Option<usize> {
    let better = |a: f64, b: f64| match direction {
        Direction::Minimize => a < b,
        Direction::Maximize => a > b,
    };
    let mut best: Option<(usize, f64)> = None;
    for (i, v) in values.iter().enumerate() {
        let Some(v) = *v else { continue };
        if !candidates[i] || v.is_nan() {
            continue;
        }
        if best.is_none_or(|(_, b)| better(v, b)) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_keeps_the_undominated_points() {
        // (cost, p99): (1, 300) cheapest; (2, 200) and (3, 100) trade; (3, 250) is dominated by
        // (2, 200); (2, 200) again is on it too; a point without a latency is not.
        let points = [
            Some((1.0, 300.0)),
            Some((2.0, 200.0)),
            Some((3.0, 100.0)),
            Some((3.0, 250.0)),
            Some((2.0, 200.0)),
            None,
        ];
        assert_eq!(pareto(&points), [true, true, true, false, true, false]);
    }

    #[test]
    fn best_is_the_first_of_equals_among_candidates() {
        let values = [Some(3.0), Some(1.0), Some(1.0), None, Some(0.5)];
        let feasible = [true, true, true, true, false];
        assert_eq!(best(&values, &feasible, Direction::Minimize), Some(1));
        assert_eq!(best(&values, &feasible, Direction::Maximize), Some(0));
        assert_eq!(best(&values, &[false; 5], Direction::Minimize), None);
    }
}
