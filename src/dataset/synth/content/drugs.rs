//! A built-in list of realistic Korean drug products and how they are prescribed:
//! printed name (with strength and unit), 1회 투약량, 1일 투여횟수, 총 투약일수, 용법.

use crate::dataset::synth::rng::Rng;
use crate::dataset::Drug;

/// Therapeutic class: decides which products go together and how long they are given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    BloodPressure,
    Statin,
    Diabetes,
    Antiplatelet,
    Anticoagulant,
    Diuretic,
    Ppi,
    GiProtect,
    Prokinetic,
    Laxative,
    Antibiotic,
    Analgesic,
    Nsaid,
    MuscleRelaxant,
    Antihistamine,
    Mucolytic,
    Antitussive,
    Thyroid,
    Antidepressant,
    Anxiolytic,
    Hypnotic,
    Neuropathic,
    Dementia,
    Gout,
    Urology,
    Steroid,
    Antiviral,
    Osteoporosis,
}

impl Class {
    /// Chronic classes are prescribed for weeks to months; the rest for days.
    fn chronic(self) -> bool {
        matches!(
            self,
            Class::BloodPressure
                | Class::Statin
                | Class::Diabetes
                | Class::Antiplatelet
                | Class::Anticoagulant
                | Class::Diuretic
                | Class::Thyroid
                | Class::Antidepressant
                | Class::Dementia
                | Class::Urology
                | Class::Osteoporosis
        )
    }
}

/// Strength unit, printed in one of several styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Mg,
    Mcg,
    G,
    /// No strength in the product name (combination products, syrups).
    None,
}

/// Dosage form: decides the unit a dose is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Tablet,
    Capsule,
    /// Counted in mL.
    Syrup,
}

/// One product as it appears in the formulary.
#[derive(Debug, Clone, Copy)]
pub struct Product {
    /// Brand and form, e.g. `타이레놀정`.
    pub base: &'static str,
    /// Strength as printed, e.g. `500` or `5/50`; empty when the name carries none.
    pub strength: &'static str,
    pub unit: Unit,
    pub class: Class,
    pub form: Form,
    /// Usual 1일 투여횟수 choices.
    pub freq: &'static [u8],
    /// Usual 1회 투약량 (tablets, capsules or mL).
    pub dose: &'static [&'static str],
}

const fn p(
    base: &'static str,
    strength: &'static str,
    unit: Unit,
    class: Class,
    freq: &'static [u8],
) -> Product {
    let form = if ends_with(base, "캡슐") {
        Form::Capsule
    } else if ends_with(base, "시럽") {
        Form::Syrup
    } else {
        Form::Tablet
    };
    let dose: &'static [&'static str] = if ends_with(base, "시럽") {
        &["10", "5"]
    } else {
        &["1"]
    };
    Product {
        base,
        strength,
        unit,
        class,
        form,
        freq,
        dose,
    }
}

/// `const` suffix test (str methods are not const).
const fn ends_with(s: &str, suffix: &str) -> bool {
    let (s, t) = (s.as_bytes(), suffix.as_bytes());
    if t.len() > s.len() {
        return false;
    }
    let mut i = 0;
    while i < t.len() {
        if s[s.len() - t.len() + i] != t[i] {
            return false;
        }
        i += 1;
    }
    true
}

use Class::*;
use Unit::{Mcg, Mg, G};

pub const PRODUCTS: &[Product] = &[
    p("노바스크정", "5", Mg, BloodPressure, &[1]),
    p("아모잘탄정", "5/50", Mg, BloodPressure, &[1]),
    p("아모잘탄정", "5/100", Mg, BloodPressure, &[1]),
    p("코자정", "50", Mg, BloodPressure, &[1]),
    p("디오반필름코팅정", "80", Mg, BloodPressure, &[1]),
    p("트윈스타정", "40/5", Mg, BloodPressure, &[1]),
    p("엑스포지정", "5/160", Mg, BloodPressure, &[1]),
    p("올메텍정", "20", Mg, BloodPressure, &[1]),
    p("세비카정", "5/20", Mg, BloodPressure, &[1]),
    p("카나브정", "60", Mg, BloodPressure, &[1]),
    p("딜라트렌정", "6.25", Mg, BloodPressure, &[2]),
    p("콩코르정", "2.5", Mg, BloodPressure, &[1]),
    p("라식스정", "40", Mg, Diuretic, &[1]),
    p("알닥톤필름코팅정", "25", Mg, Diuretic, &[1]),
    p("리피토정", "10", Mg, Statin, &[1]),
    p("리피토정", "20", Mg, Statin, &[1]),
    p("크레스토정", "10", Mg, Statin, &[1]),
    p("크레스토정", "5", Mg, Statin, &[1]),
    p("리바로정", "2", Mg, Statin, &[1]),
    p("아토젯정", "10/10", Mg, Statin, &[1]),
    p("로수젯정", "10/5", Mg, Statin, &[1]),
    p("다이아벡스정", "500", Mg, Diabetes, &[2, 3]),
    p("메트포르민서방정", "1000", Mg, Diabetes, &[1]),
    p("자누비아정", "100", Mg, Diabetes, &[1]),
    p("자누메트정", "50/500", Mg, Diabetes, &[2]),
    p("트라젠타정", "5", Mg, Diabetes, &[1]),
    p("아마릴정", "2", Mg, Diabetes, &[1]),
    p("포시가정", "10", Mg, Diabetes, &[1]),
    p("자디앙정", "10", Mg, Diabetes, &[1]),
    p("제미글로정", "50", Mg, Diabetes, &[1]),
    p("아스피린프로텍트정", "100", Mg, Antiplatelet, &[1]),
    p("플라빅스정", "75", Mg, Antiplatelet, &[1]),
    p("브릴린타정", "90", Mg, Antiplatelet, &[2]),
    p("엘리퀴스정", "5", Mg, Anticoagulant, &[2]),
    p("자렐토정", "20", Mg, Anticoagulant, &[1]),
    p("릭시아나정", "60", Mg, Anticoagulant, &[1]),
    p("넥시움정", "40", Mg, Ppi, &[1]),
    p("란스톤엘에프디티정", "15", Mg, Ppi, &[1]),
    p("파리에트정", "10", Mg, Ppi, &[1]),
    p("가스터정", "20", Mg, Ppi, &[2]),
    p("무코스타정", "100", Mg, GiProtect, &[3]),
    p("스티렌정", "60", Mg, GiProtect, &[2, 3]),
    p("가스모틴정", "5", Mg, Prokinetic, &[3]),
    p("둘코락스에스장용정", "", Unit::None, Laxative, &[1]),
    p("마그밀정", "500", Mg, Laxative, &[2, 3]),
    p("오구멘틴정", "625", Mg, Antibiotic, &[2, 3]),
    p("아목시실린캡슐", "500", Mg, Antibiotic, &[3]),
    p("세파클러캡슐", "250", Mg, Antibiotic, &[3]),
    p("크라비트정", "500", Mg, Antibiotic, &[1]),
    p("클래리시드필름코팅정", "250", Mg, Antibiotic, &[2]),
    p("씨프로바이정", "500", Mg, Antibiotic, &[2]),
    p("타이레놀정", "500", Mg, Analgesic, &[3]),
    p("타이레놀8시간이알서방정", "650", Mg, Analgesic, &[2, 3]),
    p("울트라셋정", "", Unit::None, Analgesic, &[2, 3]),
    p("부루펜정", "400", Mg, Nsaid, &[3]),
    p("쎄레브렉스캡슐", "200", Mg, Nsaid, &[1, 2]),
    p("록소닌정", "60", Mg, Nsaid, &[3]),
    p("에어탈정", "100", Mg, Nsaid, &[2]),
    p("비모보정", "500/20", Mg, Nsaid, &[2]),
    p("에페리손정", "50", Mg, MuscleRelaxant, &[3]),
    p("바클로펜정", "10", Mg, MuscleRelaxant, &[3]),
    p("씨잘정", "5", Mg, Antihistamine, &[1]),
    p("지르텍정", "10", Mg, Antihistamine, &[1]),
    p("에리어스정", "5", Mg, Antihistamine, &[1]),
    p("싱귤레어정", "10", Mg, Antihistamine, &[1]),
    p("슈다페드정", "60", Mg, Antihistamine, &[3]),
    p("뮤코펙트정", "30", Mg, Mucolytic, &[3]),
    p("코대원정", "", Unit::None, Antitussive, &[3]),
    p("레보투스정", "60", Mg, Antitussive, &[3]),
    p("코푸시럽", "", Unit::None, Antitussive, &[3]),
    p("씬지로이드정", "0.1", Mg, Thyroid, &[1]),
    p("씬지록신정", "50", Mcg, Thyroid, &[1]),
    p("렉사프로정", "10", Mg, Antidepressant, &[1]),
    p("졸로프트정", "50", Mg, Antidepressant, &[1]),
    p("자낙스정", "0.25", Mg, Anxiolytic, &[2]),
    p("스틸녹스정", "10", Mg, Hypnotic, &[1]),
    p("리리카캡슐", "75", Mg, Neuropathic, &[2]),
    p("뉴론틴캡슐", "300", Mg, Neuropathic, &[3]),
    p("아리셉트정", "5", Mg, Dementia, &[1]),
    p("자이로릭정", "100", Mg, Gout, &[1]),
    p("페북스정", "40", Mg, Gout, &[1]),
    p("콜킨정", "0.6", Mg, Gout, &[2]),
    p("하루날디정", "0.2", Mg, Urology, &[1]),
    p("베타미가서방정", "50", Mg, Urology, &[1]),
    p("소론도정", "5", Mg, Steroid, &[2, 3]),
    p("발트렉스정", "500", Mg, Antiviral, &[3]),
    p("타미플루캡슐", "75", Mg, Antiviral, &[2]),
    p("오마코연질캡슐", "1", G, Statin, &[1, 2]),
    p("포사맥스플러스디정", "", Unit::None, Osteoporosis, &[1]),
];

/// How a document prints strengths, doses and 용법: hospitals' systems differ.
#[derive(Debug, Clone, Copy)]
pub struct PrintStyle {
    /// 0: `밀리그램`, 1: `mg`, 2: `㎎`, 3: `밀리그람` (older spelling).
    unit: u8,
    /// 0: `1`, 1: `1.00`, 2: `1정`.
    dose: u8,
    /// Append ` 경구` to the 용법.
    oral: bool,
}

impl PrintStyle {
    pub fn draw(rng: &mut Rng) -> PrintStyle {
        let r = rng.unit();
        PrintStyle {
            unit: if r < 0.55 {
                0
            } else if r < 0.85 {
                1
            } else if r < 0.93 {
                2
            } else {
                3
            },
            dose: rng.below(3) as u8,
            oral: rng.chance(0.2),
        }
    }
}

impl Product {
    /// The printed product name, e.g. `타이레놀정500밀리그램` or `메트포르민서방정1000mg`.
    pub fn name(&self, style: PrintStyle) -> String {
        let unit = match (self.unit, style.unit) {
            (Unit::None, _) => "",
            (Mg, 0) => "밀리그램",
            (Mg, 1) => "mg",
            (Mg, 2) => "㎎",
            (Mg, _) => "밀리그람",
            (Mcg, 0 | 3) => "마이크로그램",
            (Mcg, 1) => "mcg",
            (Mcg, _) => "μg",
            (G, 0 | 3) => "그램",
            (G, _) => "g",
        };
        format!("{}{}{}", self.base, self.strength, unit)
    }

    fn dose_text(&self, amount: &str, style: PrintStyle) -> String {
        match style.dose {
            0 => amount.to_string(),
            1 => {
                let v: f64 = amount.parse().unwrap_or(1.0);
                format!("{v:.2}")
            }
            _ => match self.form {
                Form::Tablet => format!("{amount}정"),
                Form::Capsule => format!("{amount}캡슐"),
                Form::Syrup => format!("{amount}mL"),
            },
        }
    }
}

/// The 용법 for a product given its daily frequency.
fn route(rng: &mut Rng, product: &Product, freq: u8) -> &'static str {
    match product.class {
        Ppi if freq == 1 => "아침 식전 30분",
        Thyroid => "아침 식전 30분",
        Prokinetic => "식전 30분",
        Hypnotic | Laxative => "취침 전",
        Antihistamine if freq == 1 => rng.pick(&["취침 전", "저녁 식후 30분"]),
        Osteoporosis => "기상 직후 공복",
        _ => match freq {
            1 => rng.pick(&[
                "아침 식후 30분",
                "저녁 식후 30분",
                "식후 30분",
                "1일 1회 아침",
            ]),
            2 => rng.pick(&[
                "아침 저녁 식후 30분",
                "식후 30분",
                "12시간마다",
                "아침 저녁 식후",
            ]),
            _ => rng.pick(&["식후 30분", "식후 즉시", "매 식후 30분", "8시간마다"]),
        },
    }
}

/// Products of one class.
pub fn of_class(class: Class) -> Vec<&'static Product> {
    PRODUCTS.iter().filter(|p| p.class == class).collect()
}

/// Draws one prescribed drug of `class`; `days` overrides the class's usual duration.
pub fn prescribe(rng: &mut Rng, class: Class, style: PrintStyle, days: Option<u32>) -> Drug {
    let products = of_class(class);
    let product = rng.pick(&products);
    let freq = rng.pick(product.freq);
    let mut amount = rng.pick(product.dose);
    if product.form == Form::Tablet && rng.chance(0.08) {
        amount = if rng.chance(0.5) { "0.5" } else { "2" };
    }
    let days = days.unwrap_or_else(|| {
        if class.chronic() {
            rng.pick(&[28, 30, 30, 56, 60, 84, 90])
        } else {
            rng.pick(&[3, 3, 5, 5, 7, 7, 10, 14])
        }
    });
    let mut route = route(rng, product, freq).to_string();
    if style.oral {
        route.push_str(" 경구");
    }
    Drug {
        name: product.name(style),
        dose: Some(product.dose_text(amount, style)),
        frequency: Some(freq.to_string()),
        days: Some(days.to_string()),
        route: Some(route),
        extra: Default::default(),
    }
}

/// Draws one drug per class (skipping duplicates of the same product name).
pub fn prescribe_all(
    rng: &mut Rng,
    classes: &[Class],
    style: PrintStyle,
    days: Option<u32>,
) -> Vec<Drug> {
    let mut out: Vec<Drug> = Vec::new();
    for &c in classes {
        let d = prescribe(rng, c, style, days);
        if out.iter().all(|o| o.name != d.name) {
            out.push(d);
        }
    }
    out
}

/// The 처방 table header and a drug's row cells.
pub const TABLE_HEADER: [&str; 5] = [
    "처방 의약품의 명칭",
    "1회 투약량",
    "1일 투여횟수",
    "총 투약일수",
    "용법",
];

pub fn row(d: &Drug) -> Vec<String> {
    vec![
        d.name.clone(),
        d.dose.clone().unwrap_or_default(),
        d.frequency.clone().unwrap_or_default(),
        d.days.clone().unwrap_or_default(),
        d.route.clone().unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_strength_and_unit() {
        let s = |unit| PrintStyle {
            unit,
            dose: 0,
            oral: false,
        };
        let tylenol = PRODUCTS.iter().find(|p| p.base == "타이레놀정").unwrap();
        assert_eq!(tylenol.name(s(0)), "타이레놀정500밀리그램");
        assert_eq!(tylenol.name(s(1)), "타이레놀정500mg");
        let amo = PRODUCTS.iter().find(|p| p.strength == "5/50").unwrap();
        assert_eq!(amo.name(s(0)), "아모잘탄정5/50밀리그램");
        assert!(PRODUCTS.len() >= 60);
        assert_eq!(
            PRODUCTS.iter().find(|p| p.base == "코푸시럽").unwrap().form,
            Form::Syrup
        );
        assert_eq!(
            PRODUCTS
                .iter()
                .find(|p| p.base == "리리카캡슐")
                .unwrap()
                .form,
            Form::Capsule
        );
    }
}
