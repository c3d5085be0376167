from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    # No format check here: a sign-in only has to match an existing login.
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)],
                       description="The email you sign in with.", render_kw={"autocomplete": "email"})


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=12, max=200,
                             message="Use 12 to 200 characters.")], render_kw={"autocomplete": "new-password"},
                             description="At least 12 characters. A few unrelated words make a good one.")
    confirm = PasswordField("New password again", validators=[DataRequired(), EqualTo(
        "password", message="The two passwords are not the same.")], render_kw={"autocomplete": "new-password"})


class TotpForm(FlaskForm):
    code = StringField("Six-digit code", validators=[DataRequired(), Length(min=6, max=7)],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"})
