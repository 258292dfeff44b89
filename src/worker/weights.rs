//! Weighted queue order: each claim round visits the served queues in a random order in
//! which a queue of weight w comes first with probability w / Σw (Efraimidis–Spirakis
//! sampling), so a busy high-weight queue cannot starve the others.

use crate::config::QueueWeight;
use crate::task::QueueName;

/// The queues in this round's order.
pub fn round_order(queues: &[QueueWeight]) -> Vec<&QueueName> {
    let mut keyed: Vec<(f64, &QueueName)> = queues
        .iter()
        .map(|q| {
            let u = fastrand::f64().max(f64::MIN_POSITIVE);
            (-u.ln() / f64::from(q.weight), &q.name)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    keyed.into_iter().map(|(_, name)| name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavier_queues_come_first_more_often() {
        let queues = vec![
            QueueWeight { name: QueueName::parse("heavy").unwrap(), weight: 6 },
            QueueWeight { name: QueueName::parse("light").unwrap(), weight: 1 },
        ];
        let heavy_first =
            (0..10_000).filter(|_| round_order(&queues)[0].as_str() == "heavy").count();
        // Expected 6/7 ≈ 8571; allow a wide margin so the test cannot flake.
        assert!((8000..9100).contains(&heavy_first), "{heavy_first}");
    }
}
