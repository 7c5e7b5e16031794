"""Small building blocks shared by the models: fast dropout, input augmentation."""
