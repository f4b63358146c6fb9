//! 퇴원요약서: the discharge summary of an inpatient stay: dates, 주진단/부진단, 주호소,
//! 현병력, admission findings with a lab table, several paragraphs of 입원경과, the
//! procedure, condition at discharge, 퇴원처방 and 추후계획. Always longer than a page.

use chrono::{Duration, NaiveDate};

use super::drugs::{self, Class, PrintStyle};
use super::{fill, kcd, people, recent_date, Draft};
use crate::dataset::synth::lines::{LineKind, SynthLine};
use crate::dataset::synth::rng::Rng;

/// One sentence slot: a template is picked from the alternatives.
type Sentence = &'static [&'static str];
/// A paragraph: one sentence from each slot, in order.
type Paragraph = &'static [Sentence];

/// A kind of admission, with everything its summary says.
struct Stay {
    department: &'static str,
    ward: &'static str,
    main: &'static str,
    secondary: &'static [&'static str],
    days: (i64, i64),
    complaint: &'static [&'static str],
    history: Paragraph,
    findings: Paragraph,
    /// Lab variables drawn for this stay: (name, low, high, decimals).
    vars: &'static [(&'static str, f64, f64, usize)],
    /// Lab table rows: (item, admission var, discharge var, unit).
    labs: &'static [(&'static str, &'static str, &'static str, &'static str)],
    course: &'static [Paragraph],
    procedure: Option<&'static str>,
    condition: Sentence,
    meds: &'static [Class],
    plan: &'static [&'static str],
}

const STAYS: &[Stay] = &[
    Stay {
        department: "호흡기내과",
        ward: "본관 7층 서병동",
        main: "J18.9",
        secondary: &["I10", "E11.9", "J44.1"],
        days: (6, 11),
        complaint: &["발열, 기침 및 누런 가래", "기침, 가래 및 호흡곤란"],
        history: &[
            &["{age}세 {sex} 환자로 내원 {days}일 전부터 발생한 발열과 기침, 누런 가래를 주소로 개인의원에서 약물치료를 받았으나 증상 호전 없어 본원 응급실 경유하여 입원함.",
              "{age}세 {sex} 환자로 {days}일 전부터 시작된 기침과 가래, 오한을 동반한 발열로 타병원에서 외래 치료 중 호흡곤란이 악화되어 본원 응급실로 내원함."],
            &["내원 당일 최고 {temp}℃의 발열이 있었으며 깊게 숨을 쉴 때 우측 흉부 통증을 호소하였음.",
              "내원 당시 {temp}℃의 발열과 함께 식사량이 평소의 절반 이하로 감소한 상태였음."],
            &["과거력상 {sec} 진단 하에 약물 복용 중이며, 흡연력은 {pack}갑년임."],
        ],
        findings: &[
            &["입원 당시 활력징후는 혈압 {bp} mmHg, 맥박 {hr}회/분, 호흡수 {rr}회/분, 체온 {temp}℃, 산소포화도 {spo2}%였음."],
            &["청진상 우하폐야에서 수포음이 들렸으며, 혈액검사에서 WBC {wbc} ×10³/μL, CRP {crp} mg/dL로 상승되어 있었음."],
            &["Chest X-ray 및 Chest CT에서 우하엽의 consolidation 소견이 관찰되어 지역사회획득 폐렴으로 진단함."],
        ],
        vars: &[("wbc", 12.5, 19.8, 1), ("wbc2", 5.2, 9.1, 1), ("crp", 8.0, 24.0, 2), ("crp2", 0.3, 2.4, 2), ("hb", 11.2, 14.5, 1), ("hb2", 11.0, 14.0, 1), ("cr", 0.7, 1.4, 2), ("cr2", 0.6, 1.1, 2)],
        labs: &[("WBC", "wbc", "wbc2", "×10³/μL"), ("Hemoglobin", "hb", "hb2", "g/dL"), ("CRP", "crp", "crp2", "mg/dL"), ("Creatinine", "cr", "cr2", "mg/dL")],
        course: &[
            &[&["입원 후 경험적 항생제로 ceftriaxone 및 azithromycin 정주를 시작하였음.",
                "입원 후 경험적 항생제로 piperacillin/tazobactam 정주를 시작하였음."],
              &["객담 배양검사 및 혈액 배양검사를 시행하였으며 특이 균주는 동정되지 않았음.",
                "객담 배양검사에서 Streptococcus pneumoniae가 동정되어 감수성 결과에 따라 항생제를 유지하였음."],
              &["입원 {d1}일째부터 발열이 소실되었고 객담량도 점차 감소하였음."]],
            &[&["입원 초기 비강 캐뉼라로 분당 2 L의 산소를 공급하였으며, 입원 {d1}일째 산소 요법을 중단한 후에도 실내 공기에서 산소포화도 95% 이상 유지되었음."],
              &["입원 {d2}일째 시행한 추적 혈액검사에서 WBC {wbc2} ×10³/μL, CRP {crp2} mg/dL로 호전되었음."],
              &["추적 Chest X-ray에서 우하엽의 음영이 감소하는 소견을 보였음.",
                "추적 Chest X-ray에서 우하엽 consolidation의 범위가 감소하였음."]],
            &[&["경구 섭취 양호하고 활력징후가 안정적으로 유지되어 입원 {d3}일째 경구 항생제로 변경하였으며, 이후 특이 소견 없이 경과 관찰 후 퇴원하기로 함."]],
        ],
        procedure: None,
        condition: &["퇴원 시 발열 없고 기침은 간헐적으로 남아 있으나 일상생활에 지장이 없는 상태임.",
                     "퇴원 시 활력징후 안정적이며 호흡곤란 없이 보행 가능한 상태임."],
        meds: &[Class::Antibiotic, Class::Mucolytic, Class::Antitussive],
        plan: &["{fu} 호흡기내과 외래에서 추적 Chest X-ray를 시행할 예정임.",
                "발열, 호흡곤란 또는 객혈이 발생하면 즉시 응급실로 내원하도록 교육함.",
                "금연 및 충분한 수분 섭취를 권고함.",
                "폐렴구균 및 인플루엔자 예방접종을 권고함."],
    },
    Stay {
        department: "순환기내과",
        ward: "심혈관센터 5층 병동",
        main: "I21.9",
        secondary: &["I10", "E78.5", "E11.9"],
        days: (4, 8),
        complaint: &["가슴 통증", "쥐어짜는 듯한 흉통 및 식은땀"],
        history: &[
            &["{age}세 {sex} 환자로 내원 당일 새벽 안정 시 발생한 쥐어짜는 듯한 흉통이 30분 이상 지속되어 119를 통해 본원 응급실로 내원함.",
              "{age}세 {sex} 환자로 내원 {days}일 전부터 계단을 오를 때 흉부 압박감이 있었으며, 내원 당일 식은땀을 동반한 흉통이 지속되어 응급실로 내원함."],
            &["통증은 좌측 어깨와 턱으로 뻗치는 양상이었으며 호흡곤란과 오심을 동반하였음."],
            &["과거력상 {sec} 진단을 받았으나 약물 복용이 불규칙하였으며, 흡연력은 {pack}갑년임."],
        ],
        findings: &[
            &["내원 당시 혈압 {bp} mmHg, 맥박 {hr}회/분, 산소포화도 {spo2}%였음."],
            &["심전도에서 V1-V4 유도의 ST 분절 상승이 관찰되었고, 심근효소 검사에서 Troponin I {tni} ng/mL, CK-MB {ckmb} ng/mL로 상승되어 있었음."],
            &["심초음파에서 좌심실 전벽의 운동 저하가 관찰되었으며 좌심실 구혈률은 {ef}%였음."],
        ],
        vars: &[("tni", 2.5, 38.0, 2), ("tni2", 0.2, 1.8, 2), ("ckmb", 25.0, 160.0, 1), ("ckmb2", 1.5, 6.0, 1), ("ldl", 128.0, 190.0, 0), ("ldl2", 95.0, 140.0, 0), ("ef", 38.0, 52.0, 0)],
        labs: &[("Troponin I", "tni", "tni2", "ng/mL"), ("CK-MB", "ckmb", "ckmb2", "ng/mL"), ("LDL-C", "ldl", "ldl2", "mg/dL")],
        course: &[
            &[&["급성 ST 분절 상승 심근경색으로 진단하고 아스피린 및 티카그렐러 부하 용량 투여 후 응급 관상동맥조영술을 시행하였음."],
              &["좌전하행지 근위부의 완전 폐쇄가 확인되어 풍선 확장술 후 약물용출 스텐트 1개를 삽입하였으며, 시술 후 TIMI 3등급의 혈류가 회복되었음.",
                "좌전하행지 중간 부위의 90% 협착이 확인되어 약물용출 스텐트 1개를 삽입하였고 시술 후 잔여 협착은 없었음."]],
            &[&["시술 후 심장집중치료실에서 24시간 동안 관찰하였으며 부정맥이나 출혈 등의 합병증은 없었음."],
              &["입원 {d1}일째 일반 병동으로 전동하였고, 이후 흉통의 재발 없이 심장 재활 교육을 시작하였음."],
              &["입원 {d2}일째 추적 검사에서 Troponin I {tni2} ng/mL로 감소하였음."]],
            &[&["이중 항혈소판제, 고용량 스타틴, 베타차단제를 투여하였으며 혈압 및 맥박은 안정적으로 유지되었음."],
              &["보행 시 흉통이나 호흡곤란이 없음을 확인하고 입원 {d3}일째 퇴원을 결정함."]],
        ],
        procedure: Some("관상동맥조영술 및 경피적 관상동맥중재술 (PCI, 약물용출 스텐트 삽입)"),
        condition: &["퇴원 시 흉통 없이 병동 내 보행이 자유로운 상태임.",
                     "퇴원 시 활력징후 안정적이며 흉통 및 호흡곤란 호소 없음."],
        meds: &[Class::Antiplatelet, Class::Antiplatelet, Class::Statin, Class::BloodPressure, Class::Ppi],
        plan: &["{fu} 순환기내과 외래 방문 예정이며 1개월 후 심초음파를 재검할 예정임.",
                "이중 항혈소판제는 임의로 중단하지 않도록 반복 교육함.",
                "금연, 저염식 및 규칙적인 유산소 운동을 권고함.",
                "흉통이 5분 이상 지속되면 즉시 119에 연락하도록 교육함."],
    },
    Stay {
        department: "신경과",
        ward: "본관 9층 뇌졸중집중치료실",
        main: "I63.9",
        secondary: &["I10", "E78.5", "I48.9", "E11.9"],
        days: (8, 15),
        complaint: &["우측 팔다리 힘 빠짐 및 말이 어눌해짐", "갑자기 발생한 우측 편마비"],
        history: &[
            &["{age}세 {sex} 환자로 내원 당일 오전 아침 식사 중 갑자기 발생한 우측 팔다리의 위약감과 발음 장애로 보호자와 함께 본원 응급실로 내원함."],
            &["증상 발생 후 약 {onset_h}시간 만에 내원하였으며, 두통이나 의식 저하는 동반하지 않았음."],
            &["과거력상 {sec} 진단 하에 약물 복용 중이었음."],
        ],
        findings: &[
            &["내원 당시 혈압 {bp} mmHg, 맥박 {hr}회/분으로 불규칙하였으며, 신경학적 검사에서 우측 상하지 근력은 4등급, NIHSS 점수는 {nihss}점이었음."],
            &["뇌 MRI 확산강조영상에서 좌측 중대뇌동맥 영역의 급성 뇌경색이 확인되었고, MRA에서 좌측 중대뇌동맥의 협착이 관찰되었음."],
        ],
        vars: &[("ldl", 130.0, 185.0, 0), ("ldl2", 70.0, 110.0, 0), ("glu", 110.0, 190.0, 0), ("glu2", 95.0, 140.0, 0), ("hba1c", 5.8, 8.2, 1), ("hba1c2", 5.8, 8.2, 1)],
        labs: &[("LDL-C", "ldl", "ldl2", "mg/dL"), ("Glucose", "glu", "glu2", "mg/dL"), ("HbA1c", "hba1c", "hba1c2", "%")],
        course: &[
            &[&["증상 발생 후 시간이 경과하여 정맥 내 혈전용해술의 대상이 되지 않아 항혈소판제 및 고용량 스타틴으로 치료를 시작하였음.",
                "정맥 내 혈전용해술을 시행하였으며 이후 출혈성 변화 없이 항혈소판제를 시작하였음."],
              &["뇌졸중집중치료실에서 3일간 신경학적 상태와 혈압을 면밀히 관찰하였으며 증상의 악화는 없었음."]],
            &[&["입원 중 시행한 24시간 심전도 검사에서 발작성 심방세동이 확인되어 입원 {d1}일째 항응고제로 변경하였음.",
                "입원 중 시행한 심초음파와 24시간 심전도 검사에서 색전의 원인이 될 만한 소견은 관찰되지 않았음."],
              &["삼킴 기능 검사에서 흡인 위험이 낮아 연식부터 경구 섭취를 시작하였으며 이후 일반식으로 진행하였음."]],
            &[&["입원 {d2}일째부터 재활의학과 협진 하에 물리치료 및 작업치료를 시행하였으며, 우측 근력은 4+등급으로 호전되었음."],
              &["발음 장애는 경도로 남아 있으나 의사소통에는 큰 어려움이 없는 상태임."],
              &["입원 {d3}일째 보조기 없이 단거리 보행이 가능하여 외래 재활치료를 계획하고 퇴원하기로 함."]],
        ],
        procedure: None,
        condition: &["퇴원 시 우측 위약감은 경도로 남아 있으나 독립 보행이 가능한 상태임.",
                     "퇴원 시 경도의 구음장애와 우측 손의 미세운동 장애가 남아 있는 상태임."],
        meds: &[Class::Antiplatelet, Class::Statin, Class::BloodPressure, Class::Ppi],
        plan: &["{fu} 신경과 외래에서 경과를 관찰할 예정임.",
                "재활의학과 외래를 통해 주 3회 재활치료를 지속할 예정임.",
                "목표 혈압은 130/80 mmHg 미만이며 가정 혈압을 매일 기록하도록 교육함.",
                "갑자기 말이 어눌해지거나 한쪽 팔다리의 힘이 빠지면 즉시 응급실로 내원하도록 교육함."],
    },
    Stay {
        department: "외과",
        ward: "본관 6층 동병동",
        main: "K35.8",
        secondary: &[],
        days: (3, 6),
        complaint: &["우하복부 통증", "명치 부위 통증 후 우하복부로 이동한 통증"],
        history: &[
            &["{age}세 {sex} 환자로 내원 {days}일 전부터 명치 부위의 불편감이 있었으며, 이후 통증이 우하복부로 이동하고 심해져 본원 응급실로 내원함."],
            &["오심과 1회의 구토가 동반되었으며 식욕이 저하된 상태였음."],
        ],
        findings: &[
            &["내원 당시 체온 {temp}℃, 혈압 {bp} mmHg, 맥박 {hr}회/분이었으며, 우하복부 McBurney 지점의 압통과 반발통이 있었음."],
            &["혈액검사에서 WBC {wbc} ×10³/μL, CRP {crp} mg/dL였고, 복부 CT에서 충수의 직경이 {diam} mm로 증가되어 있고 주변 지방 조직의 염증 소견이 관찰되어 급성 충수염으로 진단함."],
        ],
        vars: &[("wbc", 11.5, 17.5, 1), ("wbc2", 5.5, 9.5, 1), ("crp", 2.5, 12.0, 2), ("crp2", 0.4, 2.5, 2), ("diam", 8.0, 14.0, 0)],
        labs: &[("WBC", "wbc", "wbc2", "×10³/μL"), ("CRP", "crp", "crp2", "mg/dL")],
        course: &[
            &[&["입원 당일 전신마취 하에 복강경 충수절제술을 시행하였으며, 수술 소견상 천공 없는 화농성 충수염이었음.",
                "입원 당일 응급으로 복강경 충수절제술을 시행하였으며, 충수 끝부분의 괴사 소견이 있었으나 천공은 없었음."],
              &["수술은 특이 합병증 없이 종료되었으며 수술 후 예방적 항생제를 투여하였음."]],
            &[&["수술 후 1일째 가스 배출이 확인되어 물부터 섭취를 시작하였고, 이후 연식을 거쳐 일반식으로 진행하였음."],
              &["수술 부위 통증은 경구 진통제로 조절되었으며 발열은 없었음."],
              &["입원 {d1}일째 시행한 혈액검사에서 WBC {wbc2} ×10³/μL, CRP {crp2} mg/dL로 호전되었음."]],
            &[&["수술 부위는 발적이나 분비물 없이 깨끗하게 유지되었으며, 조직검사 결과 급성 화농성 충수염으로 확인되었음."],
              &["일반식 섭취 후에도 복통이 없고 보행이 자유로워 입원 {d2}일째 퇴원을 결정함."]],
        ],
        procedure: Some("복강경 충수절제술 (Laparoscopic appendectomy)"),
        condition: &["퇴원 시 수술 부위의 경미한 통증 외에 특이 증상 없는 상태임.",
                     "퇴원 시 일반식 섭취가 가능하고 수술 부위 상처가 깨끗한 상태임."],
        meds: &[Class::Antibiotic, Class::Analgesic, Class::GiProtect],
        plan: &["{fu} 외과 외래에서 수술 부위를 확인하고 봉합사를 제거할 예정임.",
                "퇴원 후 2주간 무리한 운동과 무거운 물건을 드는 것을 피하도록 교육함.",
                "수술 부위에 발적, 분비물 또는 38℃ 이상의 발열이 있으면 내원하도록 교육함."],
    },
    Stay {
        department: "외과",
        ward: "본관 6층 서병동",
        main: "K81.0",
        secondary: &["K80.2", "I10"],
        days: (4, 8),
        complaint: &["우상복부 통증 및 발열", "식후 발생한 우상복부 통증"],
        history: &[
            &["{age}세 {sex} 환자로 내원 {days}일 전 기름진 음식을 먹은 후 시작된 우상복부 통증이 지속되고 발열이 동반되어 본원 응급실로 내원함.",
              "{age}세 {sex} 환자로 수년 전 건강검진에서 담석을 진단받았으며, 내원 {days}일 전부터 우상복부 통증과 오한이 있어 내원함."],
            &["통증은 우측 어깨로 뻗치는 양상이었고 오심을 동반하였음."],
        ],
        findings: &[
            &["내원 당시 체온 {temp}℃, 혈압 {bp} mmHg, 맥박 {hr}회/분이었으며 Murphy 징후 양성이었음."],
            &["혈액검사에서 WBC {wbc} ×10³/μL, CRP {crp} mg/dL, 총빌리루빈 {tbil} mg/dL였으며, 복부 초음파 및 CT에서 담낭벽의 비후와 담낭 경부의 결석이 관찰되었음."],
        ],
        vars: &[("wbc", 11.0, 16.5, 1), ("wbc2", 5.0, 9.0, 1), ("crp", 4.0, 15.0, 2), ("crp2", 0.5, 2.8, 2), ("tbil", 0.8, 2.2, 1), ("tbil2", 0.4, 1.1, 1), ("alt", 35.0, 120.0, 0), ("alt2", 18.0, 45.0, 0)],
        labs: &[("WBC", "wbc", "wbc2", "×10³/μL"), ("CRP", "crp", "crp2", "mg/dL"), ("Total Bilirubin", "tbil", "tbil2", "mg/dL"), ("ALT", "alt", "alt2", "U/L")],
        course: &[
            &[&["입원 후 금식 및 수액 치료와 함께 정맥 항생제를 투여하였으며, 입원 {d1}일째 복강경 담낭절제술을 시행하였음."],
              &["수술 소견상 담낭은 부종성으로 커져 있었고 주변과의 유착이 있었으나 개복 전환 없이 수술을 마쳤음."]],
            &[&["수술 후 복강 내 배액관을 유지하였으며 배액량 감소를 확인한 후 수술 후 2일째 제거하였음."],
              &["수술 후 1일째부터 물을 마시기 시작하여 일반식까지 진행하였으며 복통이나 발열은 없었음."],
              &["입원 {d2}일째 시행한 혈액검사에서 염증 수치와 간기능 검사가 호전되었음."]],
            &[&["조직검사 결과 담석을 동반한 급성 담낭염으로 확인되었으며 악성 소견은 없었음."],
              &["수술 부위 상태 양호하고 식사 및 보행에 문제가 없어 입원 {d3}일째 퇴원하기로 함."]],
        ],
        procedure: Some("복강경 담낭절제술 (Laparoscopic cholecystectomy)"),
        condition: &["퇴원 시 복통 및 발열 없이 일반식 섭취가 가능한 상태임."],
        meds: &[Class::Analgesic, Class::GiProtect, Class::Antibiotic],
        plan: &["{fu} 외과 외래에서 수술 부위를 확인할 예정임.",
                "당분간 기름진 음식은 피하고 소량씩 자주 식사하도록 교육함.",
                "황달, 발열 또는 심한 복통이 있으면 즉시 내원하도록 교육함."],
    },
    Stay {
        department: "정형외과",
        ward: "별관 4층 정형외과 병동",
        main: "S72.0",
        secondary: &["M81.0", "I10", "E11.9"],
        days: (12, 21),
        complaint: &["낙상 후 우측 고관절 통증 및 보행 불가"],
        history: &[
            &["{age}세 {sex} 환자로 내원 당일 집 안 화장실에서 미끄러져 넘어진 후 우측 고관절 부위의 심한 통증과 함께 일어설 수 없어 119를 통해 응급실로 내원함."],
            &["낙상 당시 의식 소실이나 두부 외상은 없었음."],
            &["과거력상 {sec} 진단 하에 약물 복용 중이었으며 평소 보행 보조기 없이 독립 보행이 가능하였음."],
        ],
        findings: &[
            &["내원 당시 우측 하지는 단축 및 외회전되어 있었으며, 고관절 단순방사선 및 CT 검사에서 우측 대퇴골 경부의 전위성 골절이 확인되었음."],
            &["골밀도 검사에서 T-score {tscore}로 골다공증 소견을 보였음."],
        ],
        vars: &[("hb", 10.5, 13.5, 1), ("hb2", 9.2, 11.8, 1), ("crp", 0.5, 3.0, 2), ("crp2", 0.3, 2.0, 2), ("alb", 3.2, 4.1, 1), ("alb2", 3.0, 3.8, 1)],
        labs: &[("Hemoglobin", "hb", "hb2", "g/dL"), ("CRP", "crp", "crp2", "mg/dL"), ("Albumin", "alb", "alb2", "g/dL")],
        course: &[
            &[&["입원 후 내과 협진을 통해 수술 전 전신 상태를 평가하였으며, 입원 {d1}일째 척추마취 하에 우측 인공 고관절 반치환술을 시행하였음."],
              &["수술 중 출혈량은 약 400 mL였고 수술 후 농축적혈구 2단위를 수혈하였음.",
                "수술은 특이 합병증 없이 종료되었으며 수혈은 필요하지 않았음."]],
            &[&["수술 후 예방적 항생제와 항응고제를 투여하였으며, 수술 부위 배액관은 수술 후 2일째 제거하였음."],
              &["수술 후 일시적인 섬망 증상이 있었으나 환경 조성과 약물치료로 3일 만에 호전되었음.",
                "수술 후 통증은 자가통증조절장치와 경구 진통제로 조절되었음."]],
            &[&["수술 후 2일째부터 재활의학과 협진 하에 침상 운동을 시작하였고, 이후 보행기를 이용한 보행 훈련을 시행하였음."],
              &["입원 {d2}일째 보행기를 이용하여 병동 내 보행이 가능해졌으며, 골다공증에 대해 약물치료를 시작하였음."],
              &["수술 부위 상처는 양호하게 치유되어 입원 {d3}일째 봉합사를 제거하고 재활병원으로 전원을 계획하였음."]],
        ],
        procedure: Some("우측 인공 고관절 반치환술 (Bipolar hemiarthroplasty)"),
        condition: &["퇴원 시 보행기를 이용한 단거리 보행이 가능한 상태임.",
                     "퇴원 시 수술 부위 통증은 경미하며 보행기를 이용하여 화장실 이용이 가능한 상태임."],
        meds: &[Class::Analgesic, Class::Nsaid, Class::GiProtect, Class::Osteoporosis],
        plan: &["{fu} 정형외과 외래에서 추적 방사선 검사를 시행할 예정임.",
                "수술 후 6주간 고관절을 과도하게 굽히거나 다리를 꼬는 자세를 피하도록 교육함.",
                "재활치료를 지속하고 낙상 예방을 위해 실내 환경을 정비하도록 교육함.",
                "골다공증 약물을 꾸준히 복용하고 6개월 후 골밀도 검사를 재검할 예정임."],
    },
    Stay {
        department: "신장내과",
        ward: "본관 8층 동병동",
        main: "N10",
        secondary: &["E11.9", "I10"],
        days: (5, 10),
        complaint: &["고열, 오한 및 옆구리 통증", "발열 및 배뇨 시 통증"],
        history: &[
            &["{age}세 {sex} 환자로 내원 {days}일 전부터 배뇨 시 통증과 빈뇨가 있었으며, 내원 당일 오한을 동반한 {temp}℃의 고열과 좌측 옆구리 통증이 발생하여 응급실로 내원함."],
            &["오심과 식욕 부진을 동반하였으며 최근 6개월 내 유사한 증상으로 치료받은 적은 없었음."],
        ],
        findings: &[
            &["내원 당시 혈압 {bp} mmHg, 맥박 {hr}회/분, 체온 {temp}℃였으며 좌측 늑골척추각 압통이 있었음."],
            &["소변검사에서 농뇨와 세균뇨가 관찰되었고, 혈액검사에서 WBC {wbc} ×10³/μL, CRP {crp} mg/dL, 크레아티닌 {cr} mg/dL였음."],
            &["복부 CT에서 좌측 신장의 부종과 신주위 지방 조직의 염증 소견이 관찰되었으나 농양이나 요로 폐색은 없었음."],
        ],
        vars: &[("wbc", 12.0, 21.0, 1), ("wbc2", 5.0, 9.5, 1), ("crp", 9.0, 26.0, 2), ("crp2", 0.5, 3.0, 2), ("cr", 1.1, 1.9, 2), ("cr2", 0.7, 1.1, 2)],
        labs: &[("WBC", "wbc", "wbc2", "×10³/μL"), ("CRP", "crp", "crp2", "mg/dL"), ("Creatinine", "cr", "cr2", "mg/dL")],
        course: &[
            &[&["급성 신우신염으로 진단하고 소변 및 혈액 배양검사 시행 후 경험적 항생제로 ceftriaxone 정주를 시작하였음."],
              &["소변 배양검사에서 Escherichia coli가 동정되었으며 항생제 감수성 결과에 따라 기존 항생제를 유지하였음."]],
            &[&["입원 초기 탈수 소견이 있어 수액 치료를 시행하였으며, 입원 {d1}일째 크레아티닌 {cr2} mg/dL로 회복되었음."],
              &["입원 {d1}일째부터 발열이 소실되었고 옆구리 통증도 점차 감소하였음."],
              &["입원 중 혈당이 일시적으로 상승하여 속효성 인슐린으로 조절하였음."]],
            &[&["입원 {d2}일째 추적 혈액검사에서 염증 수치가 호전되어 경구 항생제로 변경하였으며 이후 발열의 재발은 없었음."],
              &["총 14일간의 항생제 치료를 계획하고 입원 {d3}일째 퇴원하기로 함."]],
        ],
        procedure: None,
        condition: &["퇴원 시 발열 및 옆구리 통증 없이 식사를 잘 하는 상태임."],
        meds: &[Class::Antibiotic, Class::Analgesic],
        plan: &["{fu} 신장내과 외래에서 소변검사 및 배양검사를 재검할 예정임.",
                "충분한 수분 섭취와 규칙적인 배뇨 습관을 권고함.",
                "발열이나 옆구리 통증이 재발하면 즉시 내원하도록 교육함."],
    },
    Stay {
        department: "순환기내과",
        ward: "본관 5층 서병동",
        main: "I50.9",
        secondary: &["I48.9", "I10", "N18.3"],
        days: (6, 12),
        complaint: &["호흡곤란 및 양측 다리 부종", "누우면 심해지는 호흡곤란"],
        history: &[
            &["{age}세 {sex} 환자로 내원 {days}일 전부터 조금만 걸어도 숨이 차고 양측 다리가 붓는 증상이 있었으며, 내원 전날 밤 누우면 숨이 차서 앉아서 잠을 자야 할 정도로 악화되어 응급실로 내원함."],
            &["최근 1주일간 체중이 약 {kg} kg 증가하였다고 함."],
            &["과거력상 {sec} 진단 하에 약물 복용 중이었으나 최근 2주간 이뇨제를 임의로 중단하였음."],
        ],
        findings: &[
            &["내원 당시 혈압 {bp} mmHg, 맥박 {hr}회/분, 호흡수 {rr}회/분, 산소포화도 {spo2}%였음."],
            &["청진상 양측 폐 하부에서 수포음이 들렸고 양측 하지에 함요부종이 있었으며, NT-proBNP {bnp} pg/mL로 상승되어 있었음."],
            &["흉부 X선에서 심비대와 양측 흉막 삼출이 관찰되었고, 심초음파에서 좌심실 구혈률은 {ef}%로 감소되어 있었음."],
        ],
        vars: &[("bnp", 2400.0, 9800.0, 0), ("bnp2", 700.0, 2200.0, 0), ("cr", 1.3, 2.1, 2), ("cr2", 1.1, 1.6, 2), ("na", 129.0, 135.0, 0), ("na2", 135.0, 140.0, 0), ("ef", 28.0, 40.0, 0)],
        labs: &[("NT-proBNP", "bnp", "bnp2", "pg/mL"), ("Creatinine", "cr", "cr2", "mg/dL"), ("Sodium", "na", "na2", "mmol/L")],
        course: &[
            &[&["급성 심부전 악화로 진단하고 산소 공급과 함께 정맥 이뇨제를 투여하였으며, 하루 섭취량과 배설량, 체중을 매일 측정하였음."],
              &["입원 {d1}일째까지 하루 1.5 L 이상의 소변이 배출되었으며 호흡곤란과 부종이 점차 호전되었음."]],
            &[&["입원 {d1}일째 산소 공급을 중단하였으며, 이후 실내 공기에서 산소포화도 95% 이상 유지되었음."],
              &["정맥 이뇨제를 경구 이뇨제로 변경하였고, 심부전 표준 치료 약물을 저용량부터 시작하여 증량하였음."],
              &["치료 중 크레아티닌이 일시적으로 상승하였으나 이뇨제 용량 조절 후 회복되었음."]],
            &[&["입원 {d2}일째 추적 검사에서 NT-proBNP {bnp2} pg/mL로 감소하였으며 입원 시보다 체중이 {kg} kg 감소하였음."],
              &["심부전 전문 간호사를 통해 저염식, 수분 제한 및 매일 체중 측정에 대해 교육하였으며 입원 {d3}일째 퇴원하기로 함."]],
        ],
        procedure: None,
        condition: &["퇴원 시 평지 보행 시 호흡곤란이 없고 하지 부종이 소실된 상태임.",
                     "퇴원 시 경도의 운동 시 호흡곤란 외에 특이 증상 없는 상태임."],
        meds: &[Class::Diuretic, Class::BloodPressure, Class::Anticoagulant, Class::Diuretic],
        plan: &["{fu} 순환기내과 외래에서 혈액검사 및 약물 용량을 조절할 예정임.",
                "하루 소금 섭취를 5 g 이하로 제한하고 수분은 하루 1.5 L 이내로 제한하도록 교육함.",
                "매일 아침 체중을 측정하여 3일 내 2 kg 이상 증가하면 내원하도록 교육함."],
    },
];

/// Sentences any admission may add (nursing, nutrition, education).
const GENERIC: &[&str] = &[
    "입원 기간 중 낙상 및 욕창 위험도 평가를 시행하였으며 특이 사항은 없었음.",
    "영양 상태 평가 결과 경도의 영양 불량 위험이 있어 영양사 상담을 시행하였음.",
    "기저 질환에 대해서는 기존 복용 약물을 유지하였으며 입원 기간 중 안정적으로 조절되었음.",
    "퇴원 전 환자 및 보호자에게 복약 방법, 주의 사항 및 응급 상황 시 대처 방법에 대해 교육하였음.",
    "입원 기간 중 수면 장애를 호소하여 단기간 수면제를 사용하였으며 퇴원 시에는 중단하였음.",
    "입원 중 변비가 있어 완하제를 사용하였으며 이후 배변 양상은 정상화되었음.",
    "입원 기간 동안 혈압은 수축기 110-140 mmHg, 이완기 60-90 mmHg 범위에서 유지되었음.",
    "보호자와 함께 퇴원 후 생활 관리 및 재입원 예방을 위한 교육을 시행하였음.",
    "입원 중 시행한 심전도 검사에서 급성 변화는 관찰되지 않았음.",
    "입원 기간 동안 통증 점수는 숫자평가척도 기준 2-3점으로 잘 조절되었음.",
];

/// Discharge education lines (환자 교육).
const EDUCATION: &[&str] = &[
    "처방받은 약은 임의로 중단하거나 용량을 바꾸지 말고 정해진 시간에 복용하도록 교육함.",
    "퇴원 후 일주일간은 충분히 휴식하고 무리한 활동을 피하도록 설명함.",
    "규칙적인 식사와 충분한 수분 섭취를 하도록 교육함.",
    "금연 및 절주의 필요성에 대해 설명하였으며 금연 클리닉을 안내함.",
    "외래 방문 전 혈액검사가 예정되어 있으므로 검사 당일 아침은 금식하도록 안내함.",
    "낙상 예방을 위해 야간에 화장실 이용 시 보호자의 도움을 받도록 교육함.",
    "증상이 악화되거나 새로운 증상이 생기면 외래 예약일 이전이라도 내원하도록 설명함.",
    "복용 중인 다른 약이나 건강기능식품이 있으면 외래 방문 시 알려 주도록 안내함.",
];

/// Template variables: name → printed value.
type Vars = Vec<(&'static str, String)>;

/// What an admission draws before anything is written: who, where, when and why.
struct Admission {
    stay: &'static Stay,
    admission: NaiveDate,
    discharge: NaiveDate,
    /// Nights in hospital (the summary prints `length + 1` days).
    length: i64,
    patient: people::Person,
    hospital: people::Institution,
    attending: people::Doctor,
    resident: people::Doctor,
    style: PrintStyle,
    main: kcd::Kcd,
    secondary: Vec<kcd::Kcd>,
    follow_up: NaiveDate,
}

impl Admission {
    fn draw(rng: &mut Rng) -> Admission {
        let stay = rng.choose(STAYS);
        let discharge = recent_date(rng);
        let length = rng.range(stay.days.0, stay.days.1);
        let admission = discharge - Duration::days(length);
        let patient = people::patient(rng, admission, 25, 92);
        let hospital = people::institution(rng, false);
        let attending = people::doctor(rng, stay.department);
        let resident = people::doctor(rng, stay.department);
        let style = PrintStyle::draw(rng);
        let main = kcd::get(stay.main);
        let n_secondary = rng.below(stay.secondary.len().min(3) + 1);
        let secondary: Vec<_> = rng
            .sample(stay.secondary, n_secondary)
            .into_iter()
            .map(|c| kcd::get(c))
            .collect();
        let follow_up = discharge + Duration::days(rng.range(5, 21));
        Admission {
            stay,
            admission,
            discharge,
            length,
            patient,
            hospital,
            attending,
            resident,
            style,
            main,
            secondary,
            follow_up,
        }
    }

    /// The section number after 퇴원 시 상태: one more when a procedure section is printed.
    fn prescription_section(&self) -> usize {
        if self.stay.procedure.is_some() {
            8
        } else {
            7
        }
    }
}

/// Day numbers within the stay that the course paragraphs mention, in order.
struct StayDays {
    d1: i64,
    d2: i64,
    d3: i64,
}

impl StayDays {
    fn draw(rng: &mut Rng, length: i64) -> StayDays {
        let d1 = rng.range(2, (length / 3).max(2));
        let d2 = rng.range(d1 + 1, (2 * length / 3).max(d1 + 1));
        let d3 = rng.range(d2 + 1, length.max(d2 + 1));
        StayDays { d1, d2, d3 }
    }
}

pub(super) fn build(d: &mut Draft, rng: &mut Rng) {
    let a = Admission::draw(rng);
    let adm_text = d.date("admission", a.admission);
    let dis_text = d.date("discharge", a.discharge);
    let fu_text = d.date("follow_up", a.follow_up);
    let days = StayDays::draw(rng, a.length);
    let vars = template_vars(rng, &a, &days, fu_text);

    header(d, rng, &a, &adm_text, &dis_text);
    diagnoses(d, &a);
    presentation(d, rng, a.stay, &vars);
    let (course_end, generic) = course(d, rng, a.stay, &vars);
    if let Some(procedure) = a.stay.procedure {
        d.heading("6. 수술 및 시술");
        let op_day = a.admission + Duration::days(rng.range(0, days.d1.min(a.length)));
        let op_text = d.date("procedure", op_day);
        d.body(format!("{op_text} {procedure}"));
    }
    at_discharge(d, rng, &a, &vars);
    let written = a.discharge + Duration::days(rng.range(0, 2));
    let written_text = d.date("issued", written);
    d.signature(&[
        &format!("작성일: {written_text}"),
        &format!("작성의: {}", a.resident.name),
        &format!("주치의: {} (인)", a.attending.name),
    ]);
    lengthen(d, course_end, generic);
}

/// Template variables: vitals, day numbers within the stay, dates, labs.
fn template_vars(rng: &mut Rng, a: &Admission, days: &StayDays, fu_text: String) -> Vars {
    let sec_name = a
        .secondary
        .first()
        .map(|k| k.name.to_string())
        .unwrap_or_else(|| "고혈압".to_string());
    let mut vars: Vars = vec![
        ("age", a.patient.age(a.admission).to_string()),
        (
            "sex",
            if a.patient.sex == people::Sex::Male {
                "남자"
            } else {
                "여자"
            }
            .to_string(),
        ),
        ("days", rng.range(2, 7).to_string()),
        ("temp", format!("{:.1}", rng.uniform(37.8, 39.6))),
        (
            "bp",
            format!("{}/{}", rng.range(100, 165), rng.range(58, 98)),
        ),
        ("hr", rng.range(72, 118).to_string()),
        ("rr", rng.range(18, 28).to_string()),
        ("spo2", rng.range(88, 97).to_string()),
        ("pack", rng.range(5, 40).to_string()),
        ("onset_h", rng.range(2, 9).to_string()),
        ("nihss", rng.range(2, 7).to_string()),
        ("tscore", format!("-{:.1}", rng.uniform(2.5, 4.0))),
        ("kg", rng.range(2, 5).to_string()),
        ("d1", days.d1.to_string()),
        ("d2", days.d2.to_string()),
        ("d3", days.d3.to_string()),
        ("fu", fu_text),
        ("sec", sec_name),
    ];
    for &(name, lo, hi, dec) in a.stay.vars {
        vars.push((name, format!("{:.dec$}", rng.uniform(lo, hi))));
    }
    vars
}

/// The value of template variable `name` (empty when the stay has none).
fn var(vars: &Vars, name: &str) -> String {
    vars.iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// One sentence drawn from each slot of `p`, filled in and joined.
fn paragraph(rng: &mut Rng, p: Paragraph, vars: &Vars) -> String {
    p.iter()
        .map(|slot| fill(rng.pick(slot), vars))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Running header, title and the boxed admission details.
fn header(d: &mut Draft, rng: &mut Rng, a: &Admission, adm_text: &str, dis_text: &str) {
    let patient = &a.patient;
    d.style.running_header = Some(format!(
        "{} 퇴원요약서 - {} (등록번호 {})",
        a.hospital.name, patient.name, patient.chart_no
    ));
    d.meta(&[&a.hospital.name, &format!("등록번호: {}", patient.chart_no)]);
    d.title("퇴원요약서", rng.chance(0.5));
    d.fields.patient_name = Some(patient.name.clone());
    d.field(&[
        "환자명",
        &patient.name,
        "성별/나이",
        &patient.sex_age(a.admission),
    ]);
    d.field(&["입원일", adm_text, "퇴원일", dis_text]);
    let room = format!("{} {}호", a.stay.ward, rng.range(1, 30) + 700);
    d.field(&["진료과", a.stay.department, "병실", &room]);
    d.field(&["주치의", &a.attending.name, "작성의", &a.resident.name]);
    d.field(&[
        "퇴원 형태",
        rng.pick(&["자택 퇴원", "자택 퇴원", "자택 퇴원", "타 병원 전원"]),
        "재원 일수",
        &format!("{}일", a.length + 1),
    ]);
}

/// Section 1 (진단명): the main and secondary diagnoses, also recorded as fields.
fn diagnoses(d: &mut Draft, a: &Admission) {
    d.heading("1. 진단명");
    d.field(&["주진단", &format!("{} {}", a.main.code, a.main.name)]);
    for s in &a.secondary {
        d.field(&["부진단", &format!("{} {}", s.code, s.name)]);
    }
    d.fields.diagnosis_codes = std::iter::once(a.main.code)
        .chain(a.secondary.iter().map(|s| s.code))
        .map(String::from)
        .collect();
}

/// Sections 2–4: chief complaint, present illness, findings on admission with the lab
/// table.
fn presentation(d: &mut Draft, rng: &mut Rng, stay: &Stay, vars: &Vars) {
    d.heading("2. 주호소");
    let complaint = rng.pick(stay.complaint);
    d.body(format!("{} ({}일 전부터)", complaint, var(vars, "days")));

    d.heading("3. 현병력");
    d.body(paragraph(rng, stay.history, vars));

    d.heading("4. 입원 당시 소견");
    d.body(paragraph(rng, stay.findings, vars));
    d.table_header(&["검사항목", "입원 시", "퇴원 시", "단위"]);
    for (item, a, b, unit) in stay.labs {
        d.row(vec![
            item.to_string(),
            var(vars, a),
            var(vars, b),
            unit.to_string(),
        ]);
    }
}

/// Section 5 (입원 경과): the stay's paragraphs, then generic sentences. Returns where
/// the generic paragraph starts and the sentences it used (see [`lengthen`]).
fn course(d: &mut Draft, rng: &mut Rng, stay: &Stay, vars: &Vars) -> (usize, Vec<&'static str>) {
    d.heading("5. 입원 경과");
    for p in stay.course {
        d.body(paragraph(rng, p, vars));
    }
    let course_end = d.blocks.len();
    let n_generic = 3 + rng.below(3);
    let generic: Vec<&str> = rng
        .sample(GENERIC, n_generic)
        .into_iter()
        .copied()
        .collect();
    d.body(generic.join(" "));
    (course_end, generic)
}

/// Condition at discharge, 퇴원 처방, 추후 계획 and 환자 교육.
fn at_discharge(d: &mut Draft, rng: &mut Rng, a: &Admission, vars: &Vars) {
    d.heading(if a.stay.procedure.is_some() {
        "7. 퇴원 시 상태"
    } else {
        "6. 퇴원 시 상태"
    });
    d.body(rng.pick(a.stay.condition));

    let n = a.prescription_section();
    d.heading(&format!("{n}. 퇴원 처방"));
    let days = rng.pick(&[7u32, 7, 14, 14, 28, 30]);
    let drugs = drugs::prescribe_all(rng, a.stay.meds, a.style, Some(days));
    d.drug_table(&drugs::TABLE_HEADER, drugs);

    d.heading(&format!("{}. 추후 계획", n + 1));
    for (i, p) in a.stay.plan.iter().enumerate() {
        d.body(format!("{}) {}", i + 1, fill(p, vars)));
    }

    d.heading(&format!("{}. 환자 교육", n + 2));
    let n_education = 3 + rng.below(2);
    for (i, e) in rng.sample(EDUCATION, n_education).into_iter().enumerate() {
        d.body(format!("{}) {e}", i + 1));
    }
}

/// A discharge summary runs over more than one page: adds generic course sentences (not
/// already used) after the course paragraphs until it does.
fn lengthen(d: &mut Draft, course_end: usize, mut generic: Vec<&'static str>) {
    let mut extra = 0;
    while d.page_count() < 2 && extra < GENERIC.len() {
        let unused: Vec<&str> = GENERIC
            .iter()
            .copied()
            .filter(|g| !generic.contains(g))
            .collect();
        let Some(s) = unused.first().copied() else {
            break;
        };
        generic.push(s);
        d.blocks.insert(
            course_end + extra,
            SynthLine::new(LineKind::Body, vec![s.to_string()]),
        );
        extra += 1;
    }
}
