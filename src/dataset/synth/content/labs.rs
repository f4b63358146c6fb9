//! Laboratory tests: names, units, reference ranges, and values whose H/L flag is
//! computed from the printed (rounded) value, so flag and number always agree.

use crate::dataset::synth::rng::Rng;
use crate::dataset::LabRow;

use super::people::Sex;

/// How a reference range is bounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// `lo-hi`
    Between(f64, f64),
    /// `<hi` (e.g. total cholesterol <200)
    Below(f64),
    /// `>lo` (e.g. HDL >40)
    Above(f64),
}

/// One test.
#[derive(Debug, Clone, Copy)]
pub struct Test {
    /// Abbreviation / English name / Korean name; a document prints one style.
    pub names: [&'static str; 3],
    /// Unit with symbols (`×10³/μL`) and in ASCII (`10^3/uL`).
    pub units: [&'static str; 2],
    pub male: Bound,
    /// Female range where it differs.
    pub female: Option<Bound>,
    pub decimals: usize,
    /// Where normal values centre, and their spread (in units).
    pub mean: f64,
    pub sd: f64,
}

const fn t(
    names: [&'static str; 3],
    units: [&'static str; 2],
    male: Bound,
    female: Option<Bound>,
    decimals: usize,
    mean: f64,
    sd: f64,
) -> Test {
    Test {
        names,
        units,
        male,
        female,
        decimals,
        mean,
        sd,
    }
}

use Bound::*;

pub const CBC: &[Test] = &[
    t(
        ["WBC", "White Blood Cell", "백혈구"],
        ["×10³/μL", "10^3/uL"],
        Between(4.0, 10.0),
        None,
        1,
        6.5,
        1.4,
    ),
    t(
        ["RBC", "Red Blood Cell", "적혈구"],
        ["×10^6/μL", "10^6/uL"],
        Between(4.2, 6.3),
        Some(Between(4.0, 5.4)),
        2,
        4.8,
        0.35,
    ),
    t(
        ["Hb", "Hemoglobin", "혈색소"],
        ["g/dL", "g/dL"],
        Between(13.0, 17.0),
        Some(Between(12.0, 16.0)),
        1,
        14.2,
        1.0,
    ),
    t(
        ["Hct", "Hematocrit", "적혈구용적률"],
        ["%", "%"],
        Between(39.0, 52.0),
        Some(Between(36.0, 48.0)),
        1,
        43.0,
        3.0,
    ),
    t(
        ["MCV", "MCV", "평균적혈구용적"],
        ["fL", "fL"],
        Between(80.0, 100.0),
        None,
        1,
        90.0,
        4.0,
    ),
    t(
        ["MCH", "MCH", "평균적혈구혈색소량"],
        ["pg", "pg"],
        Between(27.0, 34.0),
        None,
        1,
        30.0,
        1.5,
    ),
    t(
        ["MCHC", "MCHC", "평균적혈구혈색소농도"],
        ["g/dL", "g/dL"],
        Between(32.0, 36.0),
        None,
        1,
        33.8,
        0.8,
    ),
    t(
        ["PLT", "Platelet", "혈소판"],
        ["×10³/μL", "10^3/uL"],
        Between(150.0, 400.0),
        None,
        0,
        260.0,
        55.0,
    ),
    t(
        ["Neutrophil", "Neutrophil", "호중구"],
        ["%", "%"],
        Between(40.0, 75.0),
        None,
        1,
        58.0,
        8.0,
    ),
    t(
        ["Lymphocyte", "Lymphocyte", "림프구"],
        ["%", "%"],
        Between(20.0, 45.0),
        None,
        1,
        32.0,
        6.0,
    ),
    t(
        ["Monocyte", "Monocyte", "단핵구"],
        ["%", "%"],
        Between(2.0, 10.0),
        None,
        1,
        6.0,
        1.5,
    ),
    t(
        ["Eosinophil", "Eosinophil", "호산구"],
        ["%", "%"],
        Between(0.0, 7.0),
        None,
        1,
        2.5,
        1.2,
    ),
];

pub const CHEMISTRY: &[Test] = &[
    t(
        ["Glucose", "Glucose (fasting)", "공복혈당"],
        ["mg/dL", "mg/dL"],
        Between(70.0, 99.0),
        None,
        0,
        92.0,
        9.0,
    ),
    t(
        ["BUN", "Blood Urea Nitrogen", "혈액요소질소"],
        ["mg/dL", "mg/dL"],
        Between(8.0, 23.0),
        None,
        1,
        15.0,
        3.5,
    ),
    t(
        ["Creatinine", "Creatinine", "크레아티닌"],
        ["mg/dL", "mg/dL"],
        Between(0.7, 1.2),
        Some(Between(0.5, 1.0)),
        2,
        0.85,
        0.12,
    ),
    t(
        ["eGFR", "eGFR (CKD-EPI)", "사구체여과율"],
        ["mL/min/1.73m2", "mL/min/1.73m2"],
        Above(60.0),
        None,
        0,
        88.0,
        14.0,
    ),
    t(
        ["AST", "AST (GOT)", "AST(GOT)"],
        ["U/L", "IU/L"],
        Between(0.0, 40.0),
        None,
        0,
        24.0,
        6.0,
    ),
    t(
        ["ALT", "ALT (GPT)", "ALT(GPT)"],
        ["U/L", "IU/L"],
        Between(0.0, 40.0),
        None,
        0,
        22.0,
        7.0,
    ),
    t(
        ["ALP", "Alkaline Phosphatase", "알칼리성인산분해효소"],
        ["U/L", "IU/L"],
        Between(40.0, 129.0),
        None,
        0,
        75.0,
        15.0,
    ),
    t(
        ["GGT", "Gamma-GT", "감마지티피"],
        ["U/L", "IU/L"],
        Between(8.0, 61.0),
        None,
        0,
        28.0,
        10.0,
    ),
    t(
        ["T.Bil", "Total Bilirubin", "총빌리루빈"],
        ["mg/dL", "mg/dL"],
        Between(0.2, 1.2),
        None,
        1,
        0.7,
        0.2,
    ),
    t(
        ["T.Protein", "Total Protein", "총단백"],
        ["g/dL", "g/dL"],
        Between(6.4, 8.3),
        None,
        1,
        7.2,
        0.4,
    ),
    t(
        ["Albumin", "Albumin", "알부민"],
        ["g/dL", "g/dL"],
        Between(3.5, 5.2),
        None,
        1,
        4.4,
        0.3,
    ),
    t(
        ["Uric acid", "Uric Acid", "요산"],
        ["mg/dL", "mg/dL"],
        Between(3.4, 7.0),
        Some(Between(2.4, 5.7)),
        1,
        5.2,
        1.0,
    ),
    t(
        ["Na", "Sodium", "나트륨"],
        ["mmol/L", "mEq/L"],
        Between(136.0, 145.0),
        None,
        0,
        140.0,
        2.0,
    ),
    t(
        ["K", "Potassium", "칼륨"],
        ["mmol/L", "mEq/L"],
        Between(3.5, 5.1),
        None,
        1,
        4.2,
        0.3,
    ),
    t(
        ["Cl", "Chloride", "염소"],
        ["mmol/L", "mEq/L"],
        Between(98.0, 107.0),
        None,
        0,
        102.0,
        2.0,
    ),
    t(
        ["Ca", "Calcium", "칼슘"],
        ["mg/dL", "mg/dL"],
        Between(8.6, 10.2),
        None,
        1,
        9.3,
        0.3,
    ),
    t(
        ["CRP", "C-Reactive Protein", "C-반응단백"],
        ["mg/dL", "mg/dL"],
        Below(0.5),
        None,
        2,
        0.15,
        0.1,
    ),
];

pub const LIPID: &[Test] = &[
    t(
        ["T.Chol", "Total Cholesterol", "총콜레스테롤"],
        ["mg/dL", "mg/dL"],
        Below(200.0),
        None,
        0,
        185.0,
        25.0,
    ),
    t(
        ["TG", "Triglyceride", "중성지방"],
        ["mg/dL", "mg/dL"],
        Below(150.0),
        None,
        0,
        120.0,
        35.0,
    ),
    t(
        ["HDL-C", "HDL Cholesterol", "HDL 콜레스테롤"],
        ["mg/dL", "mg/dL"],
        Above(40.0),
        None,
        0,
        52.0,
        9.0,
    ),
    t(
        ["LDL-C", "LDL Cholesterol", "LDL 콜레스테롤"],
        ["mg/dL", "mg/dL"],
        Below(130.0),
        None,
        0,
        110.0,
        22.0,
    ),
];

pub const DIABETES: &[Test] = &[
    t(
        ["HbA1c", "Hemoglobin A1c", "당화혈색소"],
        ["%", "%"],
        Between(4.0, 5.6),
        None,
        1,
        5.4,
        0.35,
    ),
    t(
        ["Insulin", "Insulin (fasting)", "인슐린"],
        ["μIU/mL", "uIU/mL"],
        Between(2.6, 24.9),
        None,
        1,
        9.0,
        3.5,
    ),
];

pub const THYROID: &[Test] = &[
    t(
        ["TSH", "TSH", "갑상선자극호르몬"],
        ["μIU/mL", "uIU/mL"],
        Between(0.27, 4.2),
        None,
        2,
        1.9,
        0.8,
    ),
    t(
        ["Free T4", "Free T4", "유리 T4"],
        ["ng/dL", "ng/dL"],
        Between(0.93, 1.7),
        None,
        2,
        1.25,
        0.15,
    ),
    t(
        ["T3", "T3", "T3"],
        ["ng/dL", "ng/dL"],
        Between(80.0, 200.0),
        None,
        0,
        125.0,
        20.0,
    ),
];

pub const COAGULATION: &[Test] = &[
    t(
        ["PT(INR)", "Prothrombin Time (INR)", "프로트롬빈시간(INR)"],
        ["INR", "INR"],
        Between(0.8, 1.2),
        None,
        2,
        1.0,
        0.08,
    ),
    t(
        ["aPTT", "aPTT", "활성화부분트롬보플라스틴시간"],
        ["sec", "sec"],
        Between(25.0, 40.0),
        None,
        1,
        31.0,
        3.0,
    ),
];

pub const CARDIAC: &[Test] = &[
    t(
        ["Troponin I", "Troponin I", "트로포닌 I"],
        ["ng/mL", "ng/mL"],
        Below(0.04),
        None,
        3,
        0.01,
        0.008,
    ),
    t(
        ["CK-MB", "CK-MB", "CK-MB"],
        ["ng/mL", "ng/mL"],
        Below(5.0),
        None,
        1,
        2.0,
        1.0,
    ),
    t(
        ["NT-proBNP", "NT-proBNP", "NT-proBNP"],
        ["pg/mL", "pg/mL"],
        Below(125.0),
        None,
        0,
        60.0,
        30.0,
    ),
];

pub const URINE: &[Test] = &[
    t(
        ["U-SG", "Urine Specific Gravity", "요비중"],
        ["", ""],
        Between(1.005, 1.03),
        None,
        3,
        1.018,
        0.006,
    ),
    t(
        ["U-pH", "Urine pH", "요산도"],
        ["", ""],
        Between(5.0, 8.0),
        None,
        1,
        6.0,
        0.6,
    ),
];

/// A panel: its heading and tests.
pub struct Panel {
    pub title: &'static str,
    pub tests: &'static [Test],
}

pub const PANELS: &[Panel] = &[
    Panel {
        title: "일반혈액검사 (CBC)",
        tests: CBC,
    },
    Panel {
        title: "일반화학검사",
        tests: CHEMISTRY,
    },
    Panel {
        title: "지질검사",
        tests: LIPID,
    },
    Panel {
        title: "당뇨검사",
        tests: DIABETES,
    },
    Panel {
        title: "갑상선기능검사",
        tests: THYROID,
    },
    Panel {
        title: "혈액응고검사",
        tests: COAGULATION,
    },
    Panel {
        title: "심장표지자검사",
        tests: CARDIAC,
    },
    Panel {
        title: "요검사",
        tests: URINE,
    },
];

/// How one document prints its results.
#[derive(Debug, Clone, Copy)]
pub struct LabStyle {
    /// Index into `Test::names`.
    pub names: usize,
    /// Index into `Test::units`.
    pub units: usize,
    /// Range separator: `-` or `~`.
    pub sep: &'static str,
}

impl LabStyle {
    pub fn draw(rng: &mut Rng) -> LabStyle {
        LabStyle {
            names: rng.pick(&[0, 0, 1, 2]),
            units: if rng.chance(0.7) { 0 } else { 1 },
            sep: if rng.chance(0.6) { "-" } else { "~" },
        }
    }
}

fn fmt(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

/// Draws one result. `abnormal` is the chance the value falls outside the range.
pub fn result(rng: &mut Rng, test: &Test, sex: Sex, style: LabStyle, abnormal: f64) -> LabRow {
    let bound = match (sex, test.female) {
        (Sex::Female, Some(b)) => b,
        _ => test.male,
    };
    let (lo, hi) = match bound {
        Between(lo, hi) => (Some(lo), Some(hi)),
        Below(hi) => (None, Some(hi)),
        Above(lo) => (Some(lo), None),
    };
    let mut v = test.mean + test.sd * rng.normal().clamp(-2.0, 2.0);
    if rng.chance(abnormal) {
        // Push the value out of range, on a side the range has.
        let up = match (lo, hi) {
            (Some(_), Some(_)) => rng.chance(0.65),
            (None, Some(_)) => true,
            _ => false,
        };
        let span = test.sd * rng.uniform(0.3, 3.0);
        v = match (up, lo, hi) {
            (true, _, Some(h)) => h + span,
            (false, Some(l), _) => l - span,
            _ => v,
        };
    }
    let floor = lo.map_or(0.0, |l| (l * 0.3).min(l));
    let v = v.max(floor.max(0.0));
    let printed = fmt(v, test.decimals);
    // Flag from the printed value, so it is consistent with what is read.
    let pv: f64 = printed.parse().unwrap_or(v);
    let flag = if hi.is_some_and(|h| pv > h) {
        Some("H".to_string())
    } else if lo.is_some_and(|l| pv < l) {
        Some("L".to_string())
    } else {
        None
    };
    let range = match bound {
        Between(lo, hi) => format!(
            "{}{}{}",
            fmt(lo, test.decimals),
            style.sep,
            fmt(hi, test.decimals)
        ),
        Below(hi) => format!("<{}", fmt(hi, test.decimals)),
        Above(lo) => format!(">{}", fmt(lo, test.decimals)),
    };
    let unit = test.units[style.units];
    LabRow {
        item: test.names[style.names].to_string(),
        value: printed,
        unit: (!unit.is_empty()).then(|| unit.to_string()),
        reference_range: Some(range),
        flag,
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_agree_with_printed_values() {
        let mut rng = Rng::new(5);
        let style = LabStyle {
            names: 0,
            units: 0,
            sep: "-",
        };
        let mut flagged = 0;
        for panel in PANELS {
            for test in panel.tests {
                for _ in 0..50 {
                    let r = result(&mut rng, test, Sex::Female, style, 0.3);
                    let v: f64 = r.value.parse().unwrap();
                    let range = r.reference_range.clone().unwrap();
                    let expect = if let Some(h) = range.strip_prefix('<') {
                        (v > h.parse::<f64>().unwrap()).then_some("H")
                    } else if let Some(l) = range.strip_prefix('>') {
                        (v < l.parse::<f64>().unwrap()).then_some("L")
                    } else {
                        let (l, h) = range.split_once('-').unwrap();
                        let (l, h): (f64, f64) = (l.parse().unwrap(), h.parse().unwrap());
                        if v > h {
                            Some("H")
                        } else if v < l {
                            Some("L")
                        } else {
                            None
                        }
                    };
                    assert_eq!(r.flag.as_deref(), expect, "{r:?}");
                    flagged += usize::from(r.flag.is_some());
                }
            }
        }
        assert!(flagged > 100, "abnormal values are drawn ({flagged})");
    }
}
