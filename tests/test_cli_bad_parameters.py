"""`precmed run STUDY` with bad parameters: refused before anything runs (exit status 2), with a
message naming the parameter and what was expected, no traceback and no run folder. One table for
every study (other bad input: test_cli.py, test_cli_check_data.py and the per-study files)."""

import pytest
from helpers import precmed

BAD = [  # study, -p NAME=VALUE, what the error must say
    # concept_extraction
    ("concept_extraction", "models=CRF,LSTMX", "'LSTMX' is not allowed (did you mean 'LSTM'?)"),
    ("concept_extraction", "scheme=BILOU", "scheme: 'BILOU' is not allowed"),
    ("concept_extraction", "n_seeds=0", "n_seeds: 0 is below the minimum 1"),
    ("concept_extraction", "dropout=1.5", "dropout: 1.5 is above the maximum 0.95"),
    ("concept_extraction", "optimizer=rmsprop", "optimizer: 'rmsprop' is not allowed"),
    ("concept_extraction", "hidden=fifty", "cannot read 'fifty' as int"),
    ("concept_extraction", "data=phe", "'phe' is not allowed"),
    ("concept_extraction", "data=/no/such/corpus", "does not exist"),
    # deep_patient
    ("deep_patient", "representations=RawFeat,SDAE", "'SDAE' is not allowed"),
    ("deep_patient", "sdae_optimizer=rmsprop", "sdae_optimizer: 'rmsprop' is not allowed"),
    ("deep_patient", "sdae_noise=1.5", "sdae_noise: 1.5 is above the maximum 0.95"),
    ("deep_patient", "rf_max_samples=0", "rf_max_samples: 0.0 is below the minimum 0.01"),
    ("deep_patient", "test_fraction=0.9", "test_fraction: 0.9 is above the maximum 0.5"),
    ("deep_patient", "n_patients=5", "n_patients: 5 is below the minimum 100"),
    ("deep_patient", "rf_trees=many", "cannot read 'many' as int"),
    ("deep_patient", "threshold=1.2", "threshold: 1.2 is above the maximum 1.0"),
    ("deep_patient", "data=mimic3", "'mimic3' is not allowed"),
    ("deep_patient", "data=/no/such/mimic", "does not exist"),
    ("deep_patient", "sdae_hiden=10", "sdae_hiden"),
    # deidentification
    ("deidentification", "models=char_word,lstm", "'lstm' is not allowed"),
    ("deidentification", "neg_fraction=2", "above the maximum 1.0"),
    ("deidentification", "optimizer=rmsprop", "'rmsprop' is not allowed"),
    ("deidentification", "data=/no/such/notes.xml", "does not exist"),
    # drug_response
    ("drug_response", "data=gdcs", "'gdcs' is not allowed (did you mean 'gdsc'?)"),
    ("drug_response", "data=/no/such/screen", "does not exist"),
    ("drug_response", "gdsc_drugs=Olaparib,Olaparibb",
     "'Olaparibb' is not allowed (did you mean 'Olaparib'?)"),
    ("drug_response", "models=SSVAE,DrVAEE", "'DrVAEE' is not allowed (did you mean 'DrVAE'?)"),
    ("drug_response", "sensitive_fraction=0.99", "sensitive_fraction: 0.99 is above the maximum 0.95"),
    ("drug_response", "n_folds=1", "n_folds: 1 is below the minimum 2"),
    ("drug_response", "dim_z1=0", "dim_z1: 0 is below the minimum 2"),
    ("drug_response", "epochs=many", "cannot read 'many' as int"),
    ("drug_response", "sim_pair_fraction=1.5", "sim_pair_fraction: 1.5 is above the maximum 1.0"),
    ("drug_response", "nci60_drugs=", "nci60_drugs: needs at least 1 item(s)"),
    ("drug_response", "n_genez=10", "unknown parameter 'n_genez'"),
    # heart_failure
    ("heart_failure", "controls_per_case=0", "controls_per_case: 0 is below the minimum 1"),
    ("heart_failure", "test_fraction=0.9", "test_fraction: 0.9 is above the maximum 0.5"),
    ("heart_failure", "prediction_window_days=-1", "prediction_window_days: -1 is below the minimum 0"),
    ("heart_failure", "embedding_dim=1", "embedding_dim: 1 is below the minimum 2"),
    ("heart_failure", "aggregation=max", "'max' is not allowed"),
    ("heart_failure", "svm_kernel=poly", "'poly' is not allowed"),
    ("heart_failure", "knn_k_grid=10,0", "knn_k_grid: 0 is below the minimum 1"),
    ("heart_failure", "sg_epochs=many", "cannot read 'many' as int"),
    ("heart_failure", "data=ehr_simulatd", "'ehr_simulatd' is not allowed"),
    ("heart_failure", "data=/no/such/mimic", "does not exist"),
    ("heart_failure", "window_dayz=10", "window_dayz"),
    # relation_extraction
    ("relation_extraction", "models=CRF-raw,CRF-AEX", "'CRF-AEX' is not allowed (did you mean 'CRF-AE'?)"),
    ("relation_extraction", "ae_mode=stack", "ae_mode: 'stack' is not allowed"),
    ("relation_extraction", "ae_rho=1.5", "ae_rho: 1.5 is above the maximum 0.999"),
    ("relation_extraction", "ae_hidden=0", "ae_hidden: 0 is below the minimum 1"),
    ("relation_extraction", "n_folds=1", "n_folds: 1 is below the minimum 2"),
    ("relation_extraction", "sweep_rho=0.05,2", "sweep_rho: 2.0 is above the maximum 0.999"),
    ("relation_extraction", "ae_epochs=many", "cannot read 'many' as int"),
    ("relation_extraction", "data=eudar", "'eudar' is not allowed"),
    ("relation_extraction", "data=/no/such/i2b2", "does not exist"),
    ("relation_extraction", "device=cuda", "no GPU code path"),
    # suicide_risk
    ("suicide_risk", "n_hidden=0", "n_hidden: 0 is below the minimum 2"),
    ("suicide_risk", "test_fraction=0.9", "test_fraction: 0.9 is above the maximum 0.5"),
    ("suicide_risk", "min_psych_items=0", "min_psych_items: 0 is below the minimum 1"),
    ("suicide_risk", "cd_k=0", "cd_k: 0 is below the minimum 1"),
    ("suicide_risk", "lr_c_grid=1,-1", "lr_c_grid: -1.0 is below the minimum"),
    ("suicide_risk", "rbm_epochs=many", "cannot read 'many' as int"),
    ("suicide_risk", "data=ehr_simulatd", "'ehr_simulatd' is not allowed"),
    ("suicide_risk", "data=/no/such/mimic", "does not exist"),
    ("suicide_risk", "n_hiden=10", "n_hiden"),
    # temporal_events
    ("temporal_events", "models=CRF,BiLSTMX", "'BiLSTMX' is not allowed (did you mean 'BiLSTM'?)"),
    ("temporal_events", "inits=glove", "'glove' is not allowed"),
    ("temporal_events", "n_seeds=0", "n_seeds: 0 is below the minimum 1"),
    ("temporal_events", "dev_fraction=0.9", "dev_fraction: 0.9 is above the maximum 0.5"),
    ("temporal_events", "pretrain_noncommercial=maybe", "pretrain_noncommercial"),
    ("temporal_events", "hidden=big", "cannot read 'big' as int"),
    ("temporal_events", "data=e3c", "'e3c' is not allowed"),
    ("temporal_events", "data=/no/such/anafora", "does not exist"),
]


@pytest.mark.parametrize("study,assignment,expected", BAD)
def test_bad_parameters_are_refused(tmp_path, study, assignment, expected):
    runs = tmp_path / "runs"
    r = precmed("run", study, "-p", assignment, "--runs-dir", str(runs))
    assert r.returncode == 2, r.stderr
    assert expected in r.stderr
    assert "Traceback" not in r.stderr
    assert not runs.exists()
