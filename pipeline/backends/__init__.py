"""Language-model backends behind one small interface (`base.Backend`)."""
